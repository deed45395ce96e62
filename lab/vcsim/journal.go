package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// journalVM is one registered VM in stateDir/inventory.json.
type journalVM struct {
	Name     string `json:"name"`
	VMX      string `json:"vmx"`
	Host     string `json:"host"`
	Pool     string `json:"pool,omitempty"`
	Power    string `json:"power"`
	SpecName string `json:"specName,omitempty"`
	Rate     int64  `json:"bytesPerSec"`
}

type journal struct {
	VMs     []journalVM `json:"vms"`
	Removed []string    `json:"removedSpecVMs"`
}

func (l *Launcher) journalFile() string { return filepath.Join(l.spec.StateDir, "inventory.json") }

// saveJournal records the registered VMs and removed spec VMs (atomic write).
func (l *Launcher) saveJournal() {
	l.journalMu.Lock()
	defer l.journalMu.Unlock()
	var j journal
	for _, vs := range l.allVMs() {
		power := "poweredOff"
		vm, ok := l.reg.Get(vs.ref).(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		l.reg.WithLock(l.bgCtx(), vm, func() { power = string(vm.Runtime.PowerState) })
		vs.mu.RLock()
		j.VMs = append(j.VMs, journalVM{Name: vs.name, VMX: vs.vmx.String(), Host: vs.host, Power: power, SpecName: vs.specName, Rate: vs.rate.Load()})
		vs.mu.RUnlock()
	}
	sort.Slice(j.VMs, func(a, b int) bool { return j.VMs[a].VMX < j.VMs[b].VMX })
	for n := range l.removed {
		j.Removed = append(j.Removed, n)
	}
	sort.Strings(j.Removed)
	b, _ := json.MarshalIndent(j, "", "  ")
	if err := writeFileAtomic(l.journalFile(), b); err != nil {
		l.logf("journal: %v", err)
	}
}

// loadInventory registers journaled VMs, then spec VMs (creating their files only if missing).
func (l *Launcher) loadInventory() error {
	var j journal
	if b, err := os.ReadFile(l.journalFile()); err == nil {
		if err := json.Unmarshal(b, &j); err != nil {
			return fmt.Errorf("journal %s: %w", l.journalFile(), err)
		}
	}
	for _, n := range j.Removed {
		l.removed[n] = true
	}
	covered := map[string]bool{}
	for _, jv := range j.VMs {
		p, ok := parseDSPath(jv.VMX)
		if !ok || !fileExists(l.mustLocal(p)) {
			l.logf("journal: %s (%s) has no .vmx any more, skipped", jv.Name, jv.VMX)
			continue
		}
		if _, err := l.startVM(p, jv.Name, jv.Host, jv.Power, jv.Rate, jv.SpecName); err != nil {
			return fmt.Errorf("re-register %s: %w", jv.VMX, err)
		}
		if jv.SpecName != "" {
			covered[jv.SpecName] = true
		}
	}
	for _, v := range l.spec.VMs {
		if covered[v.Name] || l.removed[v.Name] {
			continue
		}
		vmx := dsPath{v.Datastore, v.Name}.Join(v.Name + ".vmx")
		if !fileExists(l.mustLocal(vmx)) {
			var err error
			if vmx, err = l.createSpecVMFiles(v); err != nil {
				return fmt.Errorf("create files of %s: %w", v.Name, err)
			}
		} else {
			l.logf("%s: files exist, registering them as they are", v.Name)
		}
		if _, err := l.startVM(vmx, v.Name, v.Host, v.Power, v.GuestWriteBytesPerSec, v.Name); err != nil {
			return fmt.Errorf("register %s: %w", v.Name, err)
		}
	}
	l.saveJournal()
	l.refreshAllSpace()
	return nil
}

// startVM registers a vmx on a host and brings it to the wanted power state.
func (l *Launcher) startVM(vmx dsPath, name, host, power string, rate int64, specName string) (*vmState, error) {
	ctx := l.bgCtx()
	folder := ctx.Map.Get(l.vmFolder).(*simulator.Folder)
	hostRef, ok := l.hostRefs[host]
	if !ok {
		for _, r := range l.hostRefs {
			hostRef = r
		}
	}
	h := ctx.Map.Get(hostRef).(*simulator.HostSystem)
	cr := ctx.Map.Get(*h.Parent)
	var pool types.ManagedObjectReference
	switch c := cr.(type) {
	case *simulator.ClusterComputeResource:
		pool = *c.ResourcePool
	case *mo.ComputeResource:
		pool = *c.ResourcePool
	default:
		return nil, fmt.Errorf("host %s has no resource pool", host)
	}
	var vs *vmState
	var fault types.BaseMethodFault
	ctx.WithLock(folder, func() {
		vs, fault = l.registerVM(ctx, folder, vmx, name, pool, &hostRef)
	})
	if fault != nil {
		return nil, fmt.Errorf("%T%s", fault, faultDetail(fault))
	}
	vs.rate.Store(rate)
	vs.mu.Lock()
	vs.specName = specName
	if specName != "" {
		// a VM of the topology sits where the lab created it: a location written by an older
		// lab version must not make it look moved
		loc := l.locationUUID(vs.host, vs.vmx)
		_ = l.rewriteVMX(vs, func(x *VMX) { x.Set("uuid.location", loc) })
	}
	vs.mu.Unlock()
	vm := ctx.Map.Get(vs.ref).(*simulator.VirtualMachine)
	cur := vm.Runtime.PowerState
	var err types.BaseMethodFault
	ctx.WithLock(vm, func() {
		switch {
		case power == "poweredOn" && cur != types.VirtualMachinePowerStatePoweredOn:
			err = l.powerOn(ctx, vm, vs, nil)
		case power == "suspended" && cur != types.VirtualMachinePowerStateSuspended:
			if err = l.powerOn(ctx, vm, vs, nil); err == nil {
				err = l.suspend(ctx, vm, vs, false)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("power %s: %T", power, err)
	}
	return vs, nil
}

func faultDetail(f types.BaseMethodFault) string {
	switch x := f.(type) {
	case *types.FileNotFound:
		return ": " + x.File
	case *types.InvalidDatastorePath:
		return ": " + x.DatastorePath
	case *types.AlreadyExists:
		return ": " + x.Name
	}
	return ""
}
