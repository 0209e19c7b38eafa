; Inno Setup 6 script for Pusa Studio on Windows (x64). Built on Windows, after the PyInstaller build:
;
;   .venv\Scripts\python -m PyInstaller --noconfirm --clean build.spec       (makes dist\PusaStudio\)
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 packaging\windows\PusaStudio.iss
;
; Output: dist\PusaStudio-<version>-windows-x64-setup.exe (+ .bin slices: the CUDA libraries make the
; app larger than one setup file may hold). Installs per user into %LOCALAPPDATA%\Programs\Pusa Studio
; by default (no administrator rights); "Install for all users" puts it in Program Files instead.
; Settings, projects and outputs live in the user's own folders, so the uninstaller leaves them alone.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Pusa Studio"
#define AppExe "PusaStudio.exe"
#define SourceDir "..\..\dist\PusaStudio"

[Setup]
AppId={{6F1D3C52-4A0B-4E55-9C7E-0B7A2E9D5A11}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Pusa Studio
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=PusaStudio-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\build\icons\pusa-studio.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/fast
SolidCompression=no
; the bundle (torch + CUDA) is several GB: split into slices below Inno Setup's per-file limit
DiskSpanning=yes
DiskSliceSize=2000000000
WizardStyle=modern
ChangesAssociations=yes
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "pusaassoc"; Description: "Open .pusa projects with {#AppName}"; GroupDescription: "File types:"

[Files]
; the whole one-folder build: PusaStudio.exe (windowed), pusa-studio.exe (console: --version, --self-test)
; and _internal\ with Python, Qt, torch and its CUDA libraries. No model weights are included.
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; .pusa -> Pusa Studio (per user, or per machine when installed for all users)
Root: HKA; Subkey: "Software\Classes\.pusa"; ValueType: string; ValueName: ""; ValueData: "PusaStudio.Project"; Flags: uninsdeletevalue; Tasks: pusaassoc
Root: HKA; Subkey: "Software\Classes\PusaStudio.Project"; ValueType: string; ValueName: ""; ValueData: "Pusa Studio project"; Flags: uninsdeletekey; Tasks: pusaassoc
Root: HKA; Subkey: "Software\Classes\PusaStudio.Project\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"; Tasks: pusaassoc
Root: HKA; Subkey: "Software\Classes\PusaStudio.Project\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""; Tasks: pusaassoc

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; only what the installer put in {app}; nothing else is ever written there by the app
Type: dirifempty; Name: "{app}"
