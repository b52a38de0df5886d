; kyso's per-user Windows installer (NSIS 3, Unicode). No administrator rights: kyso.exe goes
; into %LOCALAPPDATA%\Programs\kyso, `kyso install` sets up the local HTTPS certificate, its
; trust and start at login for this user, the Start menu gets a shortcut, and Apps & features
; (HKCU ...\Uninstall\kyso) gets an uninstaller that runs `kyso uninstall` and removes it all.
;
; Build (see installer/README.md; scripts/test-installers.sh windows does this on Linux):
;   makensis -DKYSO_EXE=path\to\kyso.exe -DVERSION=0.1.0 -DOUTFILE=kyso-0.1.0-setup.exe kyso.nsi

Unicode true

!ifndef KYSO_EXE
  !error "pass -DKYSO_EXE=path/to/kyso.exe"
!endif
!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef OUTFILE
  !define OUTFILE "kyso-${VERSION}-setup.exe"
!endif

!define PRODUCT "kyso"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\kyso"
!define SETTINGS_KEY "Software\kyso"

Name "kyso ${VERSION}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\kyso"
InstallDirRegKey HKCU "${SETTINGS_KEY}" "InstallDir"
SetCompressor /SOLID lzma
ShowInstDetails show
ShowUninstDetails show
BrandingText "kyso ${VERSION}"

!include "MUI2.nsh"
!include "LogicLib.nsh"

!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\kyso.exe"
!define MUI_FINISHPAGE_RUN_TEXT "$(RunNow)"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "Vietnamese"
!insertmacro MUI_LANGUAGE "English"

LangString RunNow ${LANG_VIETNAMESE} "Chạy kyso ngay"
LangString RunNow ${LANG_ENGLISH} "Start kyso now"
LangString InstallFailed ${LANG_VIETNAMESE} "kyso install chưa xong (mã $0); chạy kyso doctor để xem cần làm gì."
LangString InstallFailed ${LANG_ENGLISH} "kyso install did not finish (exit code $0); run kyso doctor to see what to fix."
LangString Purge ${LANG_VIETNAMESE} "Xóa luôn cài đặt, nhật ký và chứng thư cục bộ của kyso?"
LangString Purge ${LANG_ENGLISH} "Also delete kyso's settings, logs and local certificate?"

VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=${LANG_ENGLISH} "ProductName" "kyso"
VIAddVersionKey /LANG=${LANG_ENGLISH} "FileDescription" "kyso installer"
VIAddVersionKey /LANG=${LANG_ENGLISH} "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=${LANG_ENGLISH} "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=${LANG_ENGLISH} "LegalCopyright" "MIT OR Apache-2.0"

; A running kyso (this user's; others' cannot be touched without rights) holds kyso.exe open.
!macro StopKyso
  ReadEnvStr $2 USERNAME
  nsExec::Exec '"$SYSDIR\taskkill.exe" /F /IM kyso.exe /FI "USERNAME eq $2"'
  Pop $0
!macroend

Function .onInit
  SetShellVarContext current
FunctionEnd

Section "kyso" SecMain
  SetShellVarContext current
  !insertmacro StopKyso
  SetOutPath "$INSTDIR"
  File "/oname=kyso.exe" "${KYSO_EXE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\kyso.lnk" "$INSTDIR\kyso.exe" "" "$INSTDIR\kyso.exe" 0

  WriteRegStr HKCU "${SETTINGS_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "kyso — ký số"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "kyso"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\kyso.exe"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1

  ; The local CA, its trust in this user's stores and start at login (HKCU Run key).
  DetailPrint "kyso install"
  nsExec::ExecToLog '"$INSTDIR\kyso.exe" install'
  Pop $0
  ${If} $0 != 0
    DetailPrint "$(InstallFailed)"
    MessageBox MB_ICONEXCLAMATION|MB_OK "$(InstallFailed)" /SD IDOK
  ${EndIf}
SectionEnd

Function un.onInit
  SetShellVarContext current
FunctionEnd

Section "Uninstall"
  SetShellVarContext current
  !insertmacro StopKyso

  ; Trust, start at login and the folders `kyso install` made; with --purge also settings,
  ; logs and the local CA. A silent uninstall (/S) keeps them, like `kyso uninstall`.
  StrCpy $1 ""
  MessageBox MB_YESNO|MB_ICONQUESTION "$(Purge)" /SD IDNO IDNO +2
    StrCpy $1 " --purge"
  DetailPrint "kyso uninstall$1"
  nsExec::ExecToLog '"$INSTDIR\kyso.exe" uninstall$1'
  Pop $0

  Delete "$SMPROGRAMS\kyso.lnk"
  Delete "$INSTDIR\kyso.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST_KEY}"
  DeleteRegKey HKCU "${SETTINGS_KEY}"
SectionEnd
