package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// buildModel creates the simulator model with the spec's datacenter, clusters, hosts and datastores.
func (l *Launcher) buildModel(ctx context.Context) error {
	s := l.spec
	var model *simulator.Model
	if s.Kind == "vcenter" {
		model = simulator.VPX()
		model.Datacenter = 1
		model.Host, model.Cluster, model.ClusterHost, model.Portgroup = 0, 0, 0, 0
	} else {
		model = simulator.ESX()
	}
	model.Datastore, model.Machine, model.Autostart = 0, 0, false
	if err := model.Create(); err != nil {
		return err
	}
	l.model = model
	l.reg = model.Map()
	c, err := vim25.NewClient(ctx, model.Service)
	if err != nil {
		return err
	}
	l.client = c
	finder := find.NewFinder(c, false)
	dcs := l.reg.All("Datacenter")
	if len(dcs) == 0 {
		return fmt.Errorf("model has no datacenter")
	}
	dc := object.NewDatacenter(c, dcs[0].Reference())
	dc.InventoryPath = "/" + dcs[0].Entity().Name
	finder.SetDatacenter(dc)
	if s.Kind == "vcenter" && dc.Name() != s.Datacenter {
		task, err := dc.Rename(ctx, s.Datacenter)
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			return fmt.Errorf("rename datacenter: %w", err)
		}
	}
	l.dcRef = dc.Reference()
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}
	l.vmFolder = folders.VmFolder.Reference()

	hosts := map[string]*object.HostSystem{}
	if s.Kind == "vcenter" {
		clusters := map[string]*object.ClusterComputeResource{}
		for _, cs := range s.Clusters {
			cl, err := folders.HostFolder.CreateCluster(ctx, cs.Name, types.ClusterConfigSpecEx{})
			if err != nil {
				return fmt.Errorf("create cluster %s: %w", cs.Name, err)
			}
			clusters[cs.Name] = cl
		}
		for _, hs := range s.Hosts {
			cluster := hs.Cluster
			for _, cs := range s.Clusters {
				if slices.Contains(cs.Hosts, hs.Name) {
					cluster = cs.Name
				}
			}
			spec := types.HostConnectSpec{HostName: hs.Name}
			var task *object.Task
			if cl := clusters[cluster]; cl != nil {
				task, err = cl.AddHost(ctx, spec, true, nil, nil)
			} else {
				task, err = folders.HostFolder.AddStandaloneHost(ctx, spec, true, nil, nil)
			}
			if err != nil {
				return err
			}
			info, err := task.WaitForResult(ctx, nil)
			if err != nil {
				return fmt.Errorf("add host %s: %w", hs.Name, err)
			}
			hosts[hs.Name] = object.NewHostSystem(c, info.Result.(types.ManagedObjectReference))
		}
	} else {
		h, err := finder.DefaultHostSystem(ctx)
		if err != nil {
			return err
		}
		// Rename the single ESX host object to the spec host name.
		obj := l.reg.Get(h.Reference()).(*simulator.HostSystem)
		obj.Name = s.Hosts[0].Name
		obj.Summary.Config.Name = s.Hosts[0].Name
		hosts[s.Hosts[0].Name] = h
	}

	for _, hs := range s.Hosts {
		h := hosts[hs.Name]
		l.hostRefs[hs.Name] = h.Reference()
		l.configureHost(l.reg.Get(h.Reference()).(*simulator.HostSystem), hs)
		if err := l.addPortGroups(ctx, h, hs.PortGroups); err != nil {
			return err
		}
		dss, err := h.ConfigManager().DatastoreSystem(ctx)
		if err != nil {
			return err
		}
		for _, name := range hs.Datastores {
			d := s.datastore(name)
			if err := os.MkdirAll(d.Path, 0o755); err != nil {
				return err
			}
			if _, err := dss.CreateLocalDatastore(ctx, d.Name, d.Path); err != nil {
				return fmt.Errorf("mount datastore %s on %s: %w", d.Name, hs.Name, err)
			}
		}
	}
	for _, d := range s.Datastores {
		l.dsDirs[d.Name] = d.Path
		if err := os.MkdirAll(d.Path, 0o755); err != nil {
			return err
		}
	}
	// Give each datastore its spec type (VMFS / NFS) and capacity.
	for _, o := range l.reg.All("Datastore") {
		ds := o.(*simulator.Datastore)
		d := s.datastore(ds.Name)
		if d == nil {
			continue
		}
		l.dsRefs[d.Name] = ds.Self
		base := ds.Info.GetDatastoreInfo()
		base.Name = d.Name
		if d.Type == "nfs" {
			ds.Summary.Type = string(types.HostFileSystemVolumeFileSystemTypeNFS)
			ds.Info = &types.NasDatastoreInfo{DatastoreInfo: *base, Nas: &types.HostNasVolume{
				HostFileSystemVolume: types.HostFileSystemVolume{Type: "NFS", Name: d.Name, Capacity: d.CapacityMiB << 20},
				RemoteHost:           d.RemoteHost, RemotePath: d.RemotePath,
			}}
			ds.Summary.MultipleHostAccess = types.NewBool(true)
		} else {
			ds.Summary.Type = string(types.HostFileSystemVolumeFileSystemTypeVMFS)
			ds.Info = &types.VmfsDatastoreInfo{DatastoreInfo: *base, Vmfs: &types.HostVmfsVolume{
				HostFileSystemVolume: types.HostFileSystemVolume{Type: "VMFS", Name: d.Name, Capacity: d.CapacityMiB << 20},
				BlockSizeMb:          1, MajorVersion: 6, Version: "6.82", Uuid: uuidString(mix(uint64(len(d.Name)), 7), mix(hashString(d.Name))),
			}}
		}
		l.updateDatastoreSpace(ds, d)
	}
	for _, d := range s.DistributedSwitches {
		if err := l.addDistributedSwitch(ctx, folders.NetworkFolder, hosts, d); err != nil {
			return err
		}
	}
	l.linkNetworks(nil)
	l.configureLicenses()
	return nil
}

func hashString(s string) uint64 {
	h := uint64(1469598103934665603)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// configureHost applies the spec's CPU, memory and capability facts to a host object.
func (l *Launcher) configureHost(h *simulator.HostSystem, hs HostSpec) {
	cpu := hs.CPU
	vendor := cpu.Vendor
	if vendor == "" {
		vendor = "intel"
	}
	if cpu.Cores <= 0 {
		cpu.Cores = 8
	}
	if cpu.MHz <= 0 {
		cpu.MHz = 2600
	}
	if cpu.Model == "" {
		cpu.Model = esx.HostHardwareInfo.CpuPkg[0].Description
	}
	mem := hs.MemoryMiB
	if mem <= 0 {
		mem = 65536
	}
	hw := *h.Hardware
	hw.CpuInfo = types.HostCpuInfo{NumCpuPackages: 1, NumCpuCores: cpu.Cores, NumCpuThreads: cpu.Cores * 2, Hz: int64(cpu.MHz) * 1_000_000}
	hw.CpuPkg = []types.HostCpuPackage{{Index: 0, Vendor: vendor, Hz: int64(cpu.MHz) * 1_000_000, BusHz: 100_000_000, Description: cpu.Model, ThreadId: []int16{0}}}
	hw.MemorySize = mem << 20
	hw.SystemInfo.Uuid = uuidString(mix(hashString(hs.Name), 1), mix(hashString(hs.Name), 2))
	h.Hardware = &hw

	sum := *h.Summary.Hardware
	sum.Vendor = "VMware, Inc."
	sum.CpuModel = cpu.Model
	sum.CpuMhz = cpu.MHz
	sum.NumCpuPkgs = 1
	sum.NumCpuCores = cpu.Cores
	sum.NumCpuThreads = cpu.Cores * 2
	sum.MemorySize = mem << 20
	sum.Uuid = hw.SystemInfo.Uuid
	h.Summary.Hardware = &sum

	capability := *h.Capability
	capability.VmotionSupported = hs.VMotion
	capability.StorageVMotionSupported = hs.StorageVMotion
	h.Capability = &capability

	var fc []types.HostFeatureCapability
	for _, f := range cpu.Features {
		fc = append(fc, types.HostFeatureCapability{Key: f, FeatureName: f, Value: "1"})
	}
	if h.Config != nil {
		h.Config.FeatureCapability = fc
		h.Config.MaskedFeatureCapability = nil
	}
}

func licenseInfo(key, name string, features []string) types.LicenseManagerLicenseInfo {
	props := []types.KeyAnyValue{{Key: "ProductName", Value: name}}
	for _, f := range features {
		props = append(props, types.KeyAnyValue{Key: "feature", Value: types.KeyValue{Key: f, Value: f}})
	}
	return types.LicenseManagerLicenseInfo{LicenseKey: key, EditionKey: name, Name: name, Total: 0, Used: 1, CostUnit: "cpuPackage", Properties: props}
}

func (l *Launcher) licenseKey(scope string) string {
	h := mix(hashString(l.spec.Name), hashString(scope))
	s := fmt.Sprintf("%025X", h)[:25]
	return s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20] + "-" + s[20:25]
}

// configureLicenses installs the spec's licences (vcenter: licenseFeatures, hosts: their own).
func (l *Launcher) configureLicenses() {
	lm, ok := l.reg.Get(*l.client.ServiceContent.LicenseManager).(*simulator.LicenseManager)
	if !ok {
		return
	}
	var lics []types.LicenseManagerLicenseInfo
	if l.spec.Kind == "vcenter" {
		lics = append(lics, licenseInfo(l.licenseKey("vc"), "vCenter Server Standard", l.spec.LicenseFeatures))
	}
	hostLic := map[string]types.LicenseManagerLicenseInfo{}
	for _, hs := range l.spec.Hosts {
		li := licenseInfo(l.licenseKey(hs.Name), "vSphere Enterprise Plus ("+hs.Name+")", hs.LicenseFeatures)
		hostLic[l.hostRefs[hs.Name].Value] = li
		lics = append(lics, li)
	}
	lm.Licenses = lics
	if lm.LicenseAssignmentManager == nil {
		return
	}
	lam, ok := l.reg.Get(*lm.LicenseAssignmentManager).(*simulator.LicenseAssignmentManager)
	if !ok {
		return
	}
	res := lam.QueryAssignedLicensesResponse.Returnval
	for i := range res {
		if li, ok := hostLic[res[i].EntityId]; ok {
			res[i].AssignedLicense = li
		} else if len(lics) > 0 && l.spec.Kind == "vcenter" {
			res[i].AssignedLicense = lics[0]
		}
	}
}

// licensed reports whether a feature is licensed for migrations on this endpoint.
func (l *Launcher) licensed(feature string, hosts ...string) bool {
	if l.spec.Kind == "vcenter" {
		return slices.Contains(l.spec.LicenseFeatures, feature)
	}
	for _, h := range hosts {
		if hs := l.spec.host(h); hs == nil || !slices.Contains(hs.LicenseFeatures, feature) {
			return false
		}
	}
	return true
}
