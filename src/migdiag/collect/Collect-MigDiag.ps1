# .SYNOPSIS
#     Collects what migdiag reads from Hyper-V hosts: event logs, provider templates and a
#     snapshot of the live-migration configuration. One zip per host.
#
# .DESCRIPTION
#     Read-only: it exports and reads, and never changes a setting. It writes only its own
#     staging folder (in the host's TEMP, deleted once zipped) and the zips.
#     Run it elevated, on each host, or once against several hosts with -ComputerName
#     (PowerShell remoting; the local host needs no remoting). A cmdlet or role that a host
#     lacks (no cluster, no SMB bandwidth feature) leaves a note file; collection goes on.
#     Works on Windows PowerShell 5.1 (Windows Server 2012 R2 to 2025) with in-box cmdlets.
#
# .PARAMETER ComputerName
#     Hosts to collect from. Default: this host.
#
# .PARAMETER Hours
#     How many hours of events to export, counted back from now. Default: 24.
#
# .PARAMETER Since
#     Export events from this time on instead (overrides -Hours).
#
# .PARAMETER OutputPath
#     Folder for the zips. Default: the current folder.
#
# .EXAMPLE
#     .\Collect-MigDiag.ps1 -ComputerName HV01,HV02 -Hours 48
#     Then: migdiag analyze HV01-*.zip HV02-*.zip
[CmdletBinding()]
param(
    [string[]]$ComputerName = @($env:COMPUTERNAME),
    [int]$Hours = 24,
    [datetime]$Since,
    [string]$OutputPath = (Get-Location).Path
)

$ErrorActionPreference = 'Continue'

if ($PSBoundParameters.ContainsKey('Since')) {
    $startUtc = $Since.ToUniversalTime()
} else {
    $startUtc = [DateTime]::UtcNow.AddHours(-$Hours)
}
$stamp = [DateTime]::UtcNow.ToString('yyyyMMdd-HHmmss')
$identity = [Security.Principal.WindowsIdentity]::GetCurrent()
$principal = [Security.Principal.WindowsPrincipal]$identity
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Write-Warning 'Not elevated: some logs and settings cannot be read. Run PowerShell as Administrator.'
}

# Runs on each host (locally, or through Invoke-Command). Returns the zip's bytes and a
# summary; everything it writes lives under its own staging folder.
$collectHost = {
    param([datetime]$StartUtc, [string]$Stamp, [double]$OffsetSeconds, [string]$Collector)

    $ErrorActionPreference = 'Continue'
    $hostName = $env:COMPUTERNAME
    $staging = Join-Path ([IO.Path]::GetTempPath()) "MigDiag-$hostName-$Stamp"
    $root = Join-Path $staging $hostName
    $logDir = Join-Path $root 'logs'
    $configDir = Join-Path $root 'config'
    $templateDir = Join-Path $root 'templates'
    foreach ($folder in @($logDir, $configDir, $templateDir)) {
        [void][IO.Directory]::CreateDirectory($folder)
    }
    $script:collected = @()
    $script:notes = @()

    function Write-MigDiagNote([string]$Folder, [string]$Name, [string]$Why) {
        $Why | Out-File -FilePath (Join-Path $Folder "$Name.note.txt") -Encoding utf8
        $script:notes += "${Name}: $Why"
    }

    function Export-MigDiagConfig([string]$Name, [string]$Needs, [scriptblock]$Query) {
        Write-Progress -Activity "migdiag: $hostName" -Status "configuration: $Name"
        if (-not (Get-Command -Name $Needs -ErrorAction SilentlyContinue)) {
            Write-MigDiagNote $configDir $Name "$Needs is not available on this host (role or feature not installed)"
            return
        }
        try {
            # Stop on the first error, so that a half-read cmdlet leaves a note, not a gap.
            $ErrorActionPreference = 'Stop'
            $data = @(& $Query)
        } catch {
            Write-MigDiagNote $configDir $Name "$Needs failed: $($_.Exception.Message)"
            return
        }
        if ($data.Count -eq 0) {
            Write-MigDiagNote $configDir $Name "$Needs returned nothing (none configured)"
            return
        }
        $data | ConvertTo-Json -Depth 4 | Out-File -FilePath (Join-Path $configDir "$Name.json") -Encoding utf8
        $script:collected += "config   $Name"
    }

    # Event logs, time-filtered on the host's own clock.
    $windowMs = [int64]([DateTime]::UtcNow - $StartUtc).TotalMilliseconds
    $query = "*[System[TimeCreated[timediff(@SystemTime) <= $windowMs]]]"
    $channels = @(
        'Microsoft-Windows-Hyper-V-VMMS-Admin',
        'Microsoft-Windows-Hyper-V-VMMS-Operational',
        'Microsoft-Windows-Hyper-V-Worker-Admin',
        'Microsoft-Windows-Hyper-V-High-Availability-Admin',
        'Microsoft-Windows-FailoverClustering/Operational',
        'System'
    )
    foreach ($channel in $channels) {
        Write-Progress -Activity "migdiag: $hostName" -Status "log: $channel"
        $fileName = "$hostName-" + ($channel -replace '[/\\]', '-')
        $output = & wevtutil.exe epl $channel (Join-Path $logDir "$fileName.evtx") "/q:$query" /ow:true 2>&1
        if ($LASTEXITCODE -eq 0) {
            $script:collected += "log      $channel"
        } else {
            Write-MigDiagNote $logDir $fileName "wevtutil epl failed: $output"
        }
    }

    # The providers' real message templates, for `migdiag catalog import`.
    $providers = @(
        'Microsoft-Windows-Hyper-V-VMMS',
        'Microsoft-Windows-Hyper-V-Worker',
        'Microsoft-Windows-Hyper-V-High-Availability',
        'Microsoft-Windows-FailoverClustering'
    )
    foreach ($provider in $providers) {
        Write-Progress -Activity "migdiag: $hostName" -Status "templates: $provider"
        $xml = & wevtutil.exe gp $provider /ge /gm:true /f:xml 2>&1
        if ($LASTEXITCODE -eq 0) {
            $xml | Out-File -FilePath (Join-Path $templateDir "$provider.xml") -Encoding utf8
            $script:collected += "template $provider"
        } else {
            Write-MigDiagNote $templateDir $provider "wevtutil gp failed: $xml"
        }
    }

    # The configuration: one JSON file per cmdlet.
    Export-MigDiagConfig 'Get-VMHost' 'Get-VMHost' { Get-VMHost }
    Export-MigDiagConfig 'Get-VMMigrationNetwork' 'Get-VMMigrationNetwork' { Get-VMMigrationNetwork }
    Export-MigDiagConfig 'Get-VMHostSupportedVersion' 'Get-VMHostSupportedVersion' { Get-VMHostSupportedVersion }
    Export-MigDiagConfig 'Get-VMSwitch' 'Get-VMSwitch' {
        Get-VMSwitch | Select-Object -Property @(
            'Name', 'Id', 'SwitchType', 'NetAdapterInterfaceDescription',
            'EmbeddedTeamingEnabled'
        )
    }
    Export-MigDiagConfig 'Get-VM' 'Get-VM' {
        Get-VM | Select-Object -Property @(
            'Name', 'Id', 'State', 'Version', 'Generation', 'ProcessorCount', 'MemoryStartup',
            'MemoryAssigned', 'DynamicMemoryEnabled', 'IsClustered', 'ComputerName'
        )
    }
    Export-MigDiagConfig 'Get-VMProcessor' 'Get-VMProcessor' {
        Get-VM | Get-VMProcessor | Select-Object -Property @(
            'VMName', 'VMId', 'Count', 'CompatibilityForMigrationEnabled',
            'CompatibilityForMigrationMode'
        )
    }
    Export-MigDiagConfig 'Get-VMMemory' 'Get-VMMemory' {
        Get-VM | Get-VMMemory | Select-Object -Property @(
            'VMName', 'VMId', 'Startup', 'Minimum', 'Maximum', 'DynamicMemoryEnabled'
        )
    }
    Export-MigDiagConfig 'Get-VMNetworkAdapter' 'Get-VMNetworkAdapter' {
        Get-VM | Get-VMNetworkAdapter | Select-Object -Property @('VMName', 'Name', 'SwitchName')
    }
    Export-MigDiagConfig 'Get-NetAdapter' 'Get-NetAdapter' {
        Get-NetAdapter | Select-Object -Property @(
            'Name', 'InterfaceAlias', 'InterfaceDescription', 'ifIndex', 'Status', 'LinkSpeed', 'Speed',
            'ReceiveLinkSpeed', 'TransmitLinkSpeed', 'MtuSize', 'Virtual', 'MacAddress',
            'DriverVersion'
        )
    }
    Export-MigDiagConfig 'Get-NetAdapterAdvancedProperty' 'Get-NetAdapterAdvancedProperty' {
        Get-NetAdapterAdvancedProperty | Select-Object -Property @(
            'Name', 'DisplayName', 'DisplayValue', 'RegistryKeyword', 'RegistryValue'
        )
    }
    Export-MigDiagConfig 'Get-NetAdapterRdma' 'Get-NetAdapterRdma' {
        Get-NetAdapterRdma | Select-Object -Property @('Name', 'InterfaceDescription', 'Enabled')
    }
    Export-MigDiagConfig 'Get-NetIPAddress' 'Get-NetIPAddress' {
        Get-NetIPAddress | Select-Object -Property @(
            'InterfaceAlias', 'InterfaceIndex', 'IPAddress', 'PrefixLength', 'AddressFamily'
        )
    }
    Export-MigDiagConfig 'Get-NetLbfoTeam' 'Get-NetLbfoTeam' {
        Get-NetLbfoTeam | Select-Object -Property @(
            'Name', 'Members', 'TeamingMode', 'LoadBalancingAlgorithm', 'Status'
        )
    }
    Export-MigDiagConfig 'Get-SmbBandwidthLimit' 'Get-SmbBandwidthLimit' {
        Get-SmbBandwidthLimit | Select-Object -Property @('Category', 'BytesPerSecond')
    }
    Export-MigDiagConfig 'Get-SmbMultichannelConnection' 'Get-SmbMultichannelConnection' {
        Get-SmbMultichannelConnection | Select-Object -Property @(
            'ServerName', 'ClientIpAddress', 'ServerIpAddress', 'ClientRdmaCapable',
            'ServerRdmaCapable', 'ClientLinkSpeed', 'ServerLinkSpeed', 'Selected'
        )
    }
    Export-MigDiagConfig 'Get-ClusterNetwork' 'Get-ClusterNetwork' {
        Get-ClusterNetwork | Select-Object -Property @(
            'Name', 'Role', 'Address', 'AddressMask', 'Metric', 'State'
        )
    }
    Export-MigDiagConfig 'Get-ClusterNetworkInterface' 'Get-ClusterNetworkInterface' {
        Get-ClusterNetworkInterface | Select-Object -Property @(
            'Name', 'Node', 'Network', 'Adapter', 'Address', 'State'
        )
    }
    Export-MigDiagConfig 'Get-ClusterResource' 'Get-ClusterResource' {
        Get-ClusterResource | Where-Object { $_.ResourceType -like 'Virtual Machine*' } | ForEach-Object {
            [pscustomobject]@{
                Name           = $_.Name
                OwnerGroup     = [string]$_.OwnerGroup
                OwnerNode      = [string]$_.OwnerNode
                State          = [string]$_.State
                PossibleOwners = @((Get-ClusterOwnerNode -Resource $_.Name).OwnerNodes | ForEach-Object { [string]$_ })
            }
        }
    }
    Export-MigDiagConfig 'Win32_Processor' 'Get-CimInstance' {
        Get-CimInstance -ClassName Win32_Processor | Select-Object -Property @(
            'Name', 'Manufacturer', 'NumberOfCores', 'NumberOfLogicalProcessors'
        )
    }
    Export-MigDiagConfig 'Win32_OperatingSystem' 'Get-CimInstance' {
        Get-CimInstance -ClassName Win32_OperatingSystem | Select-Object -Property @(
            'Caption', 'Version', 'BuildNumber', 'OSArchitecture'
        )
    }
    Export-MigDiagConfig 'Get-TimeZone' 'Get-TimeZone' { Get-TimeZone | Select-Object -Property @(
        'Id', 'DisplayName', 'BaseUtcOffset'
    ) }
    Export-MigDiagConfig 'w32tm' 'w32tm.exe' {
        [pscustomobject]@{
            Command = 'w32tm /query /status'
            Output  = @(& w32tm.exe /query /status 2>&1 | ForEach-Object { [string]$_ })
        }
    }
    Export-MigDiagConfig 'Clock' 'Get-Date' {
        [pscustomobject]@{
            ComputerName              = $hostName
            UtcNow                    = [DateTime]::UtcNow.ToString('o')
            Collector                 = $Collector
            OffsetFromCollectorSeconds = $OffsetSeconds
        }
    }

    Write-Progress -Activity "migdiag: $hostName" -Status 'zip'
    $zip = Join-Path $staging "$hostName-$Stamp.zip"
    Compress-Archive -Path $root -DestinationPath $zip
    $bytes = [IO.File]::ReadAllBytes($zip)
    # Only the staging folder this block created is deleted.
    [IO.Directory]::Delete($staging, $true)
    Write-Progress -Activity "migdiag: $hostName" -Completed
    [pscustomobject]@{
        ComputerName = $hostName
        ZipName      = "$hostName-$Stamp.zip"
        Zip          = $bytes
        Collected    = $script:collected
        Notes        = $script:notes
    }
}

$localNames = @('.', 'localhost', $env:COMPUTERNAME)
$results = @()
$failed = @()
$index = 0
foreach ($computer in $ComputerName) {
    $index += 1
    Write-Progress -Id 1 -Activity 'migdiag collect' -Status $computer -PercentComplete (100 * ($index - 1) / $ComputerName.Count)
    $isLocal = ($localNames -contains $computer) -or ($computer -like "$env:COMPUTERNAME.*")
    try {
        if ($isLocal) {
            Write-Host "${computer}: collecting on this host"
            $result = & $collectHost $startUtc $stamp 0 $env:COMPUTERNAME
        } else {
            Write-Host "${computer}: collecting through PowerShell remoting"
            # The remote clock against this one, measured in one round trip, so that the
            # snapshots of several hosts can tell whose clock drifts.
            $before = [DateTime]::UtcNow
            $remoteNow = Invoke-Command -ComputerName $computer -ScriptBlock { [DateTime]::UtcNow } -ErrorAction Stop
            $after = [DateTime]::UtcNow
            $midpoint = $before.AddTicks([int64](($after - $before).Ticks / 2))
            $offset = ($remoteNow.ToUniversalTime() - $midpoint).TotalSeconds
            $result = Invoke-Command -ComputerName $computer -ScriptBlock $collectHost -ArgumentList $startUtc, $stamp, $offset, $env:COMPUTERNAME -ErrorAction Stop
        }
        $target = Join-Path $OutputPath $result.ZipName
        [IO.File]::WriteAllBytes($target, [byte[]]$result.Zip)
        $results += [pscustomobject]@{
            Host      = $result.ComputerName
            Zip       = $target
            Collected = @($result.Collected).Count
            Notes     = @($result.Notes).Count
        }
        foreach ($note in @($result.Notes)) { Write-Host "  note: $note" }
    } catch {
        $failed += "${computer}: $($_.Exception.Message)"
        Write-Warning "${computer}: collection failed: $($_.Exception.Message). Run this script on $computer itself (elevated)."
    }
}
Write-Progress -Id 1 -Activity 'migdiag collect' -Completed

Write-Host ''
Write-Host 'migdiag collect: summary'
$results | Format-Table -AutoSize | Out-String | Write-Host
foreach ($line in $failed) { Write-Host "not collected: $line" }
if ($results.Count -gt 0) {
    Write-Host 'Send the zips, or read them with: migdiag analyze <zips>'
}
