//! Distinguished names as text (RFC 4514) and the Vietnamese identifiers carried in them.

use std::collections::BTreeMap;

use x509_parser::asn1_rs::{Any, Class, Tag};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// userId (RFC 4519 `UID`), where Vietnamese CAs put "MST:…", "CCCD:…" and the like.
const OID_UID: &str = "0.9.2342.19200300.100.1.1";
/// X.520 serialNumber, which some Vietnamese CAs use instead of UID for the same identifiers.
const OID_SERIAL_NUMBER: &str = "2.5.4.5";
const OID_COMMON_NAME: &str = "2.5.4.3";
const OID_ORGANIZATION: &str = "2.5.4.10";

/// Short names for attribute types, as OpenSSL prints them with `-nameopt RFC2253`.
/// RFC 4514 §3 only requires CN, L, ST, O, OU, C, STREET, DC and UID; the rest are the
/// names users see in other tools for the same certificate.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.4", "SN"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "street"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.12", "title"),
    ("2.5.4.13", "description"),
    ("2.5.4.17", "postalCode"),
    ("2.5.4.42", "GN"),
    ("2.5.4.43", "initials"),
    ("2.5.4.44", "generationQualifier"),
    ("2.5.4.46", "dnQualifier"),
    ("2.5.4.65", "pseudonym"),
    ("2.5.4.97", "organizationIdentifier"),
    (OID_UID, "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
];

/// Identifier prefixes used by Vietnamese CAs: tax code (MST), citizen identity card (CCCD),
/// old identity card (CMND), budget-relations code (MNS), passport (HC), and CMT, another
/// spelling of the identity card number.
const IDENTIFIER_PREFIXES: &[&str] = &["MST", "CCCD", "CMND", "MNS", "HC", "CMT"];

/// Formats a name per RFC 4514: most specific RDN first (the reverse of the DER order),
/// multi-valued RDNs joined with `+`, as `openssl x509 -nameopt RFC2253` does — except that
/// non-ASCII text stays UTF-8 instead of being escaped, so Vietnamese names stay readable.
pub(crate) fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(format_attribute)
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// The value of the most specific attribute of the given type, if it has a string value.
pub(crate) fn most_specific(name: &X509Name<'_>, oid: &str) -> Option<String> {
    name.iter_attributes()
        .filter(|attr| attr.attr_type().to_id_string() == oid)
        .filter_map(|attr| decode_string(attr.attr_value()))
        .last()
}

/// The subject's common name (most specific one if there are several).
pub(crate) fn common_name(name: &X509Name<'_>) -> Option<String> {
    most_specific(name, OID_COMMON_NAME)
}

/// The subject's organization (most specific one if there are several).
pub(crate) fn organization(name: &X509Name<'_>) -> Option<String> {
    most_specific(name, OID_ORGANIZATION)
}

/// Collects the identifiers found in UID and serialNumber attributes. When the same prefix
/// appears twice, the first one in DER order wins, so the result does not depend on how many
/// duplicates a CA wrote.
pub(crate) fn identifiers(name: &X509Name<'_>) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for attr in name.iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        if oid != OID_UID && oid != OID_SERIAL_NUMBER {
            continue;
        }
        let Some(text) = decode_string(attr.attr_value()) else {
            continue;
        };
        if let Some((prefix, value)) = parse_identifier(&text) {
            found.entry(prefix.to_owned()).or_insert(value);
        }
    }
    found
}

/// Splits "MST:0104359717-001" into ("MST", "0104359717-001"). Tolerates a lowercase prefix
/// and spaces around either part ("mst: 0104359717"), because CAs have issued both.
/// Returns `None` for unknown prefixes and empty values.
pub fn parse_identifier(text: &str) -> Option<(&'static str, String)> {
    let (prefix, value) = text.split_once(':')?;
    let prefix = prefix.trim();
    let known = IDENTIFIER_PREFIXES
        .iter()
        .find(|known| known.eq_ignore_ascii_case(prefix))?;
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some((known, value.to_owned()))
}

fn format_attribute(attr: &AttributeTypeAndValue<'_>) -> String {
    let oid = attr.attr_type().to_id_string();
    let short = SHORT_NAMES
        .iter()
        .find(|(known, _)| *known == oid)
        .map(|(_, short)| *short);
    match (short, decode_string(attr.attr_value())) {
        (Some(short), Some(text)) => format!("{short}={}", escape_value(&text)),
        // RFC 4514 §2.4: a value whose type is unknown (dotted form), or that is not a string,
        // is written as '#' and the hex of its BER encoding.
        (Some(short), None) => format!("{short}=#{}", hex_der(attr.attr_value())),
        (None, _) => format!("{oid}=#{}", hex_der(attr.attr_value())),
    }
}

/// Decodes the string types found in names. TeletexString is read as Latin-1, as OpenSSL and
/// browsers do in practice. Anything else (or invalid encoding) gives `None`, and the caller
/// falls back to the hex form rather than guessing.
fn decode_string(value: &Any<'_>) -> Option<String> {
    let data = value.data;
    if value.class() != Class::Universal {
        return None;
    }
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(data).ok().map(str::to_owned),
        Tag::TeletexString => Some(data.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units = data
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        Tag::UniversalString => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            data.chunks_exact(4)
                .map(|quad| {
                    char::from_u32(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
                })
                .collect()
        }
        _ => None,
    }
}

/// Escapes a value per RFC 4514 §2.4. Control characters are also hex-escaped (the RFC
/// allows escaping any character) so a name can never inject line breaks into logs or UI.
/// Non-ASCII characters are kept as they are.
pub(crate) fn escape_value(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_ascii_control() => out.push_str(&format!("\\{:02X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Uppercase hex of the value's DER encoding (identifier, length and contents), rebuilt from
/// the parsed header because x509-parser keeps only the contents.
fn hex_der(value: &Any<'_>) -> String {
    let mut der = Vec::with_capacity(value.data.len() + 6);
    let class_bits = (value.class() as u8) << 6;
    let constructed_bit = if value.header.is_constructed() {
        0x20
    } else {
        0
    };
    let tag = value.tag().0;
    if tag < 31 {
        // Lossless: tag < 31 fits in the identifier octet's low five bits.
        der.push(class_bits | constructed_bit | tag as u8);
    } else {
        der.push(class_bits | constructed_bit | 0x1f);
        der.extend(base128(tag));
    }
    let len = value.data.len();
    if len < 0x80 {
        // Lossless: checked just above.
        der.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let len_bytes = &bytes[skip..];
        // Lossless: a usize has at most 16 bytes.
        der.push(0x80 | len_bytes.len() as u8);
        der.extend_from_slice(len_bytes);
    }
    der.extend_from_slice(value.data);
    hex::encode_upper(der)
}

/// Base-128 encoding with continuation bits, as used for high tag numbers.
fn base128(mut n: u32) -> Vec<u8> {
    let mut out = vec![(n & 0x7f) as u8];
    n >>= 7;
    while n > 0 {
        out.push(0x80 | (n & 0x7f) as u8);
        n >>= 7;
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[test]
    fn escape_value_escapes_rfc4514_specials() {
        assert_eq!(
            escape_value(r#"a,b+c"d\e<f>g;h"#),
            r#"a\,b\+c\"d\\e\<f\>g\;h"#
        );
    }

    #[test]
    fn escape_value_escapes_leading_hash_and_leading_or_trailing_space() {
        assert_eq!(escape_value("#1"), "\\#1");
        assert_eq!(escape_value("a#1"), "a#1");
        assert_eq!(escape_value(" a b "), "\\ a b\\ ");
        assert_eq!(escape_value(" "), "\\ ");
        assert_eq!(escape_value(""), "");
    }

    #[test]
    fn escape_value_keeps_vietnamese_diacritics_and_hex_escapes_controls() {
        assert_eq!(escape_value("Nguyễn Văn Ánh"), "Nguyễn Văn Ánh");
        assert_eq!(escape_value("a\nb\0"), "a\\0Ab\\00");
    }

    #[test]
    fn parse_identifier_reads_known_prefixes() {
        assert_eq!(
            parse_identifier("MST:0104359717-001"),
            Some(("MST", "0104359717-001".to_owned()))
        );
        assert_eq!(
            parse_identifier("CCCD:001090012345"),
            Some(("CCCD", "001090012345".to_owned()))
        );
        for prefix in IDENTIFIER_PREFIXES {
            assert_eq!(
                parse_identifier(&format!("{prefix}:1")),
                Some((*prefix, "1".to_owned()))
            );
        }
    }

    #[test]
    fn parse_identifier_tolerates_lowercase_and_spaces() {
        assert_eq!(
            parse_identifier("mst: 0104359717"),
            Some(("MST", "0104359717".to_owned()))
        );
        assert_eq!(
            parse_identifier("  Cccd :  079073009568 "),
            Some(("CCCD", "079073009568".to_owned()))
        );
    }

    #[test]
    fn parse_identifier_rejects_unknown_prefix_missing_colon_and_empty_value() {
        assert_eq!(parse_identifier("XYZ:123"), None);
        assert_eq!(parse_identifier("0104359717"), None);
        assert_eq!(parse_identifier("MST:"), None);
        assert_eq!(parse_identifier("MST:   "), None);
        assert_eq!(parse_identifier("MSTX:1"), None);
    }

    /// DER of `Name`: SEQUENCE { SET { SEQUENCE { OID, value } } ... } from (oid, value-TLV) pairs,
    /// one RDN per pair, plus an optional multi-valued RDN.
    fn name_der(rdns: &[&[(&[u8], &[u8])]]) -> Vec<u8> {
        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            let len = u8::try_from(content.len()).expect("test names stay under 256 bytes");
            let mut v = if len < 0x80 {
                vec![tag, len]
            } else {
                vec![tag, 0x81, len]
            };
            v.extend_from_slice(content);
            v
        }
        let mut sets = Vec::new();
        for rdn in rdns {
            let mut atvs = Vec::new();
            for (oid, value) in rdn.iter() {
                let mut atv = tlv(0x06, oid);
                atv.extend_from_slice(value);
                atvs.extend(tlv(0x30, &atv));
            }
            sets.extend(tlv(0x31, &atvs));
        }
        tlv(0x30, &sets)
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const C: &[u8] = &[0x55, 0x04, 0x06];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const UID: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];
    const SERIAL: &[u8] = &[0x55, 0x04, 0x05];
    /// 1.2.3.4, not in the short-name table.
    const UNKNOWN: &[u8] = &[0x2a, 0x03, 0x04];

    fn utf8(s: &str) -> Vec<u8> {
        let mut v = vec![0x0c, s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    #[test]
    fn rfc4514_puts_most_specific_first_and_joins_multivalued_rdns_with_plus() {
        let c = [0x13, 0x02, b'V', b'N'];
        let o = utf8("Công ty, \"A\"");
        let cn = utf8("#1 Ánh");
        let uid = utf8("MST:0104359717");
        let der = name_der(&[&[(C, &c)], &[(O, &o)], &[(CN, &cn), (UID, &uid)]]);
        let (rest, name) = X509Name::from_der(&der).expect("test name parses");
        assert!(rest.is_empty());
        assert_eq!(
            rfc4514(&name),
            r#"CN=\#1 Ánh+UID=MST:0104359717,O=Công ty\, \"A\",C=VN"#
        );
    }

    #[test]
    fn rfc4514_writes_unknown_types_and_non_string_values_as_hex_der() {
        let value = utf8("hi");
        let octets = [0x04, 0x02, 0x48, 0x69];
        let der = name_der(&[&[(UNKNOWN, &value)], &[(CN, &octets)]]);
        let (_, name) = X509Name::from_der(&der).expect("test name parses");
        assert_eq!(rfc4514(&name), "CN=#04024869,1.2.3.4=#0C026869");
    }

    #[test]
    fn rfc4514_decodes_bmp_and_teletex_strings() {
        // BMPString "Ạ" (U+1EA0), TeletexString "é" as Latin-1.
        let bmp = [0x1e, 0x02, 0x1e, 0xa0];
        let t61 = [0x14, 0x01, 0xe9];
        let der = name_der(&[&[(O, &t61)], &[(CN, &bmp)]]);
        let (_, name) = X509Name::from_der(&der).expect("test name parses");
        assert_eq!(rfc4514(&name), "CN=Ạ,O=é");
    }

    #[test]
    fn identifiers_come_from_uid_and_serial_number_first_one_wins() {
        let uid = utf8("mst: 0104359717");
        let uid_again = utf8("MST:9999999999");
        let serial = utf8("CCCD:001090012345");
        let other = utf8("ABC:1");
        let cn = utf8("CMND:123");
        let der = name_der(&[
            &[(UID, &uid)],
            &[(UID, &uid_again)],
            &[(SERIAL, &serial)],
            &[(SERIAL, &other)],
            &[(CN, &cn)],
        ]);
        let (_, name) = X509Name::from_der(&der).expect("test name parses");
        let ids = identifiers(&name);
        assert_eq!(
            ids,
            BTreeMap::from([
                ("MST".to_owned(), "0104359717".to_owned()),
                ("CCCD".to_owned(), "001090012345".to_owned()),
            ])
        );
    }
}
