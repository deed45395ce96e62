package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Spec is the endpoint spec written by the TypeScript lab module.
type Spec struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"` // "esx" | "vcenter"
	Listen       string `json:"listen"`
	Username     string `json:"username"`
	Password     string `json:"password"`
	StateDir     string `json:"stateDir"`
	ControlToken string `json:"controlToken"`
	// Profile names the defaults of every time and rate below: "realistic" (default) or "quick".
	Profile string `json:"profile,omitempty"`
	// SuspendScale divides a suspended VM's memory to give its .vmss size (default 1; quick 1024).
	SuspendScale int64 `json:"suspendScale,omitempty"`
	// Guest holds the guest's times (defaults per profile, see profile.go).
	Guest           GuestTimes      `json:"guest"`
	LicenseFeatures []string        `json:"licenseFeatures"`
	Datacenter      string          `json:"datacenter"`
	Datastores      []DatastoreSpec `json:"datastores"`
	Clusters        []ClusterSpec   `json:"clusters"`
	Hosts           []HostSpec      `json:"hosts"`
	// DistributedSwitches are vCenter distributed switches with their hosts and port groups (network.go).
	DistributedSwitches []DVSSpec `json:"distributedSwitches,omitempty"`
	VMs                 []VMSpec  `json:"vms"`
	// Users are accounts besides the administrator, each with its permissions (privileges.go); the
	// administrator holds every privilege everywhere.
	Users []UserSpec `json:"users,omitempty"`
}

type DatastoreSpec struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // "vmfs" | "nfs"
	Path        string `json:"path"`
	RemoteHost  string `json:"remoteHost,omitempty"`
	RemotePath  string `json:"remotePath,omitempty"`
	CapacityMiB int64  `json:"capacityMiB"`
	// ReadMBps and WriteMBps pace every byte the lab reads or writes on this datastore
	// (MB = 10^6 bytes; defaults per type and profile, see profile.go; 0 = unpaced).
	ReadMBps  *float64 `json:"readMBps,omitempty"`
	WriteMBps *float64 `json:"writeMBps,omitempty"`
}

// DVSSpec is a distributed switch of a vCenter: the hosts that are its members and its port groups.
type DVSSpec struct {
	Name       string   `json:"name"`
	Hosts      []string `json:"hosts"`
	PortGroups []string `json:"portGroups"`
}

type ClusterSpec struct {
	Name  string   `json:"name"`
	Hosts []string `json:"hosts"`
}

type CPUSpec struct {
	Vendor   string   `json:"vendor"`
	Model    string   `json:"model"`
	Cores    int16    `json:"cores"`
	MHz      int32    `json:"mhz"`
	Features []string `json:"features"`
}

type HostSpec struct {
	Name            string   `json:"name"`
	Cluster         string   `json:"cluster,omitempty"`
	CPU             CPUSpec  `json:"cpu"`
	MemoryMiB       int64    `json:"memoryMiB"`
	VMotion         bool     `json:"vmotion"`
	StorageVMotion  bool     `json:"storageVMotion"`
	LicenseFeatures []string `json:"licenseFeatures"`
	Datastores      []string `json:"datastores"`
	// LinkGbps paces /folder traffic through this host (default 10; 0 = unpaced).
	LinkGbps *float64 `json:"linkGbps,omitempty"`
	// MaxFolderStreams caps concurrent /folder GET/PUT streams through this host; the next waits (default 8).
	MaxFolderStreams int `json:"maxFolderStreams,omitempty"`
	// PortGroups are standard port groups on the host's vSwitch0 besides "VM Network" (network.go).
	PortGroups []string `json:"portGroups,omitempty"`
}

type DiskSpec struct {
	SizeMiB   int64  `json:"sizeMiB"`
	Datastore string `json:"datastore,omitempty"`
	Fill      string `json:"fill,omitempty"` // pattern | sparse | zero | scattered
	// Thin overrides the provisioning the fill implies (sparse and scattered: thin; the others: thick).
	// A thick disk filled sparse is a thick disk of zeros whose lab backing keeps its holes (a big
	// disk that costs the lab no space; a host reads and copies it whole, as it would a real one).
	Thin *bool `json:"thin,omitempty"`
}

// thin is the disk's provisioning: Thin when given, else what the fill implies.
func (d DiskSpec) thin() bool {
	if d.Thin != nil {
		return *d.Thin
	}
	return d.Fill == "sparse" || d.Fill == "scattered"
}

type VMSpec struct {
	Name                  string     `json:"name"`
	Host                  string     `json:"host"`
	Datastore             string     `json:"datastore"`
	MemoryMiB             int64      `json:"memoryMiB"`
	CPUs                  int32      `json:"cpus"`
	GuestOS               string     `json:"guestOS"`
	Power                 string     `json:"power"`
	Disks                 []DiskSpec `json:"disks"`
	GuestWriteBytesPerSec int64      `json:"guestWriteBytesPerSec"`
	Seed                  uint64     `json:"seed"`
	// ScsiBusSharing is the .vmx's scsi0.sharedBus: none (default), virtual or physical (a clustered VM).
	ScsiBusSharing string `json:"scsiBusSharing,omitempty"`
	// Tools is "running" (default: VMware Tools start with the guest) or "none" (not installed).
	Tools string `json:"tools,omitempty"`
	// Nics is the number of network adapters, each on VM Network (default 1; at most 10).
	Nics *int `json:"nics,omitempty"`
	// IgnoreShutdown makes the guest ignore ShutdownGuest (it keeps running, as a hung guest).
	IgnoreShutdown bool `json:"ignoreShutdown,omitempty"`
	// UUIDQuestion "cancelOnly" makes the uuid.altered question offer only Cancel (unanswerable).
	UUIDQuestion string `json:"uuidQuestion,omitempty"`
	// Template registers the VM as a template (config.template true, as MarkAsTemplate leaves it);
	// it must be powered off.
	Template bool `json:"template,omitempty"`
	// ISO is an ISO image ("[ds] iso/image.iso") in the VM's CD/DVD drive; the lab writes the file.
	ISO string `json:"iso,omitempty"`
}

// LoadSpec reads and validates a spec file.
func LoadSpec(file string) (*Spec, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	return &s, s.validate()
}

func (s *Spec) validate() error {
	if s.Name == "" {
		return fmt.Errorf("spec: name is required")
	}
	switch s.Kind {
	case "esx", "vcenter":
	default:
		return fmt.Errorf("spec: kind must be esx or vcenter, got %q", s.Kind)
	}
	if s.Listen == "" || s.Username == "" || s.Password == "" || s.ControlToken == "" {
		return fmt.Errorf("spec: listen, username, password and controlToken are required")
	}
	if !filepath.IsAbs(s.StateDir) {
		return fmt.Errorf("spec: stateDir must be absolute")
	}
	if err := s.applyProfile(); err != nil {
		return err
	}
	if s.Kind == "esx" && len(s.Hosts) != 1 {
		return fmt.Errorf("spec: esx kind needs exactly one host, got %d", len(s.Hosts))
	}
	if s.Datacenter == "" {
		s.Datacenter = "DC1"
	}
	ds := map[string]bool{}
	for _, d := range s.Datastores {
		if d.Name == "" || !filepath.IsAbs(d.Path) {
			return fmt.Errorf("spec: datastore %q needs a name and an absolute path", d.Name)
		}
		ds[d.Name] = true
	}
	hosts := map[string]bool{}
	for _, h := range s.Hosts {
		hosts[h.Name] = true
		for _, pg := range h.PortGroups {
			if pg == "" || pg == "VM Network" {
				return fmt.Errorf("spec: host %s: a port group needs a name other than VM Network, got %q", h.Name, pg)
			}
		}
		for _, n := range h.Datastores {
			if !ds[n] {
				return fmt.Errorf("spec: host %s mounts unknown datastore %s", h.Name, n)
			}
		}
	}
	for _, d := range s.DistributedSwitches {
		if s.Kind != "vcenter" {
			return fmt.Errorf("spec: distributed switch %s: only a vcenter has distributed switches", d.Name)
		}
		if d.Name == "" {
			return fmt.Errorf("spec: a distributed switch needs a name")
		}
		for _, h := range d.Hosts {
			if !hosts[h] {
				return fmt.Errorf("spec: distributed switch %s has unknown host %q", d.Name, h)
			}
		}
	}
	for _, u := range s.Users {
		if u.Name == "" || u.Password == "" || u.Name == s.Username {
			return fmt.Errorf("spec: a user needs a name other than the administrator's and a password, got %q", u.Name)
		}
	}
	for i := range s.VMs {
		v := &s.VMs[i]
		if !hosts[v.Host] {
			return fmt.Errorf("spec: vm %s on unknown host %q", v.Name, v.Host)
		}
		if !ds[v.Datastore] {
			return fmt.Errorf("spec: vm %s on unknown datastore %q", v.Name, v.Datastore)
		}
		if v.MemoryMiB <= 0 {
			v.MemoryMiB = 1024
		}
		if v.CPUs <= 0 {
			v.CPUs = 1
		}
		if v.Nics != nil && (*v.Nics < 0 || *v.Nics > 10) {
			return fmt.Errorf("spec: vm %s nics must be 0 to 10, got %d", v.Name, *v.Nics)
		}
		if v.GuestOS == "" {
			v.GuestOS = "otherLinux64Guest"
		}
		if v.Power == "" {
			v.Power = "poweredOff"
		}
		switch v.Tools {
		case "", "running", "none":
		default:
			return fmt.Errorf("spec: vm %s tools must be running or none, got %q", v.Name, v.Tools)
		}
		switch v.UUIDQuestion {
		case "", "default", "cancelOnly":
		default:
			return fmt.Errorf("spec: vm %s uuidQuestion must be default or cancelOnly, got %q", v.Name, v.UUIDQuestion)
		}
		if v.Template && v.Power != "poweredOff" {
			return fmt.Errorf("spec: vm %s is a template and must be poweredOff, got %q", v.Name, v.Power)
		}
		for _, d := range v.Disks {
			if d.Datastore != "" && !ds[d.Datastore] {
				return fmt.Errorf("spec: vm %s disk on unknown datastore %q", v.Name, d.Datastore)
			}
		}
	}
	return nil
}

func (s *Spec) host(name string) *HostSpec {
	for i := range s.Hosts {
		if s.Hosts[i].Name == name {
			return &s.Hosts[i]
		}
	}
	return nil
}

func (s *Spec) datastore(name string) *DatastoreSpec {
	for i := range s.Datastores {
		if s.Datastores[i].Name == name {
			return &s.Datastores[i]
		}
	}
	return nil
}
