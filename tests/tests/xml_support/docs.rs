//! Synthetic Vietnamese portal documents, generated so every test and the benchmark use the
//! same shapes: HTKK tax return (signed over `#_NODE_TO_SIGN`, signature in `CKyDTu`), BHXH
//! file (whole document, signature in `CHUKYDONVI`, CRLF line ends and tabs), e-invoice
//! (signed over `#data`, signature in `NBan` with a signing time), and edge cases.
//! Shapes follow `shared/reference/vn-portals.md`; the content is invented.

#![allow(dead_code)]

use std::fmt::Write;

/// An HTKK-like tax return with `rows` detail rows (about 145 bytes each).
pub fn htkk(rows: usize) -> String {
    let mut xml = String::with_capacity(rows * 150 + 1024);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <HSoThueDTu xmlns=\"http://kekhaithue.gdt.gov.vn/TKhaiThue\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n\
         \x20 <HSoKhaiThue id=\"_NODE_TO_SIGN\">\n\
         \x20   <TTinChung>\n\
         \x20     <TTinTKhaiThue>\n\
         \x20       <maTKhai>842</maTKhai>\n\
         \x20       <tenTKhai>Tờ khai thuế giá trị gia tăng (Mẫu số 01/GTGT)</tenTKhai>\n\
         \x20       <NNT><mst>0104359717</mst><tenNNT>CÔNG TY TNHH KÝ SỐ VIỆT NAM</tenNNT>\
         <dchiNNT>Số 1 phố Tràng Tiền, Hoàn Kiếm, Hà Nội</dchiNNT></NNT>\n\
         \x20     </TTinTKhaiThue>\n\
         \x20   </TTinChung>\n\
         \x20   <CTieuTKhaiChinh>\n",
    );
    for i in 0..rows {
        let _ = writeln!(
            xml,
            "      <ct id_dong=\"{i}\"><ten>Hàng hoá, dịch vụ bán ra chịu thuế suất 10% — dòng {i}</ten><gt>{}</gt><thue>{}</thue></ct>",
            1_000_000 + i * 37,
            100_000 + i * 3
        );
    }
    xml.push_str(
        "    </CTieuTKhaiChinh>\n\
         \x20 </HSoKhaiThue>\n\
         \x20 <CKyDTu/>\n\
         </HSoThueDTu>\n",
    );
    xml
}

/// A BHXH-like file with CRLF line ends and tab indentation; signed as a whole.
pub fn bhxh() -> String {
    [
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
        "<HOSO>",
        "\t<THONGTINDONVI>",
        "\t\t<MADONVI>TA0001A</MADONVI>",
        "\t\t<TENDONVI>Công ty Cổ phần Thương mại Đồng Nai</TENDONVI>",
        "\t\t<DIACHI>Khu phố 3, phường Tân Phong, Biên Hoà</DIACHI>",
        "\t</THONGTINDONVI>",
        "\t<DANHSACH>",
        "\t\t<NGUOILAODONG HOTEN=\"Nguyễn Thị Ánh\" MASO=\"7912345678\"   NGAYSINH=\"01/02/1990\"/>",
        "\t\t<NGUOILAODONG MASO=\"7912345679\" HOTEN=\"Trần Văn Đức\" NGAYSINH=\"15/11/1985\" />",
        "\t</DANHSACH>",
        "\t<CHUKYDONVI></CHUKYDONVI>",
        "</HOSO>",
        "",
    ]
    .join("\r\n")
}

/// An e-invoice-like document: data under `Id="data"`, signatures under `DSCKS`.
pub fn einvoice() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
     <HDon>\n\
     \x20 <DLHDon Id=\"data\">\n\
     \x20   <TTChung><PBan>2.0.0</PBan><THDon>Hóa đơn giá trị gia tăng</THDon><KHMSHDon>1</KHMSHDon>\
     <KHHDon>C24TAA</KHHDon><SHDon>123</SHDon><NLap>2024-05-20</NLap><DVTTe>VND</DVTTe></TTChung>\n\
     \x20   <NDHDon>\n\
     \x20     <NBan><Ten>CÔNG TY TNHH KÝ SỐ VIỆT NAM</Ten><MST>0104359717</MST></NBan>\n\
     \x20     <NMua><Ten>Bà Lê Thị Hồng Nhung</Ten></NMua>\n\
     \x20     <DSHHDVu><HHDVu><STT>1</STT><THHDVu>Dịch vụ tư vấn chữ ký số</THHDVu><ThTien>5000000</ThTien></HHDVu></DSHHDVu>\n\
     \x20   </NDHDon>\n\
     \x20 </DLHDon>\n\
     \x20 <DSCKS>\n\
     \x20   <NBan/>\n\
     \x20 </DSCKS>\n\
     </HDon>"
        .to_owned()
}

/// Namespaces (default, prefixed, redeclared, unused), comments, a PI, CDATA, entity and
/// character references, single-quoted attributes in non-canonical order.
pub fn namespaces_and_comments() -> String {
    "<?xml version='1.0' encoding='UTF-8'?>\n\
     <!-- hồ sơ mẫu -->\n\
     <?xml-stylesheet type=\"text/xsl\" href=\"hs.xsl\"?>\n\
     <t:ToKhai xmlns:t='urn:vn:tokhai' xmlns='urn:vn:default' xmlns:u='urn:unused' xml:lang='vi'>\n\
     \x20 <t:Muc z='2' a='1' t:b='&lt;&amp;&quot;'><!-- ghi chú -->Giá: 1&#x2009;000 &amp; thuế\r\n</t:Muc>\n\
     \x20 <Dong xmlns='urn:vn:other'><![CDATA[<không phải thẻ> & ]]></Dong>\n\
     \x20 <Rong></Rong><Rong2/>\n\
     \x20 <ChuKy/>\n\
     </t:ToKhai>\n\
     <!-- cuối -->\n"
        .to_owned()
}

/// A document with a DTD declaring an internal entity.
pub fn with_dtd() -> String {
    "<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY e \"x\">]>\n<a>&e;</a>\n".to_owned()
}

/// Billion laughs: ten levels of ten-fold entity expansion.
pub fn billion_laughs() -> String {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    let mut previous = "lol".to_owned();
    for level in 1..=9 {
        let name = format!("lol{level}");
        let refs = format!("&{previous};").repeat(10);
        let _ = writeln!(xml, "<!ENTITY {name} \"{refs}\">");
        previous = name;
    }
    let _ = write!(xml, "]>\n<lolz>&{previous};</lolz>\n");
    xml
}

/// An external entity pointing at a local file (XXE).
pub fn external_entity() -> String {
    "<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<a>&x;</a>\n"
        .to_owned()
}
