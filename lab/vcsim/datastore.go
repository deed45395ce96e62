package main

import (
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// updateDatastoreSpace sets capacity from the spec and freeSpace = capacity - bytes under the directory.
// The caller holds the datastore lock (or runs before serving).
func (l *Launcher) updateDatastoreSpace(ds *simulator.Datastore, d *DatastoreSpec) {
	capacity := d.CapacityMiB << 20
	free := max(capacity-dirUsage(d.Path), 0)
	ds.Summary.Capacity = capacity
	ds.Summary.FreeSpace = free
	info := ds.Info.GetDatastoreInfo()
	info.FreeSpace = free
	info.MaxFileSize = capacity
	info.MaxVirtualDiskCapacity = capacity
	info.Timestamp = types.NewTime(time.Now())
}

func (l *Launcher) refreshSpace(ctx *simulator.Context, name string) {
	ref, ok := l.dsRefs[name]
	if !ok {
		return
	}
	ds, ok := ctx.Map.Get(ref).(*simulator.Datastore)
	if !ok {
		return
	}
	d := l.spec.datastore(name)
	ctx.AutoUpdate(ds, func() {
		ts := ds.Info.GetDatastoreInfo().Timestamp
		l.updateDatastoreSpace(ds, d)
		ds.Info.GetDatastoreInfo().Timestamp = ts // only a real change is reported
	})
}

func (l *Launcher) refreshAllSpace() {
	ctx := l.bgCtx()
	for name := range l.dsRefs {
		l.refreshSpace(ctx, name)
	}
}

// freeSpace returns the current free bytes of a datastore.
func (l *Launcher) freeSpace(name string) int64 {
	d := l.spec.datastore(name)
	if d == nil {
		return 0
	}
	return max((d.CapacityMiB<<20)-dirUsage(d.Path), 0)
}

// spaceLoop keeps freeSpace current while guest writers grow files, and stops writers
// of VMs that stopped running through a path the lab does not override.
func (l *Launcher) spaceLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		}
		l.refreshAllSpace()
		for _, vs := range l.allVMs() {
			vm, ok := l.reg.Get(vs.ref).(*simulator.VirtualMachine)
			if !ok || !vs.isRunning() {
				continue
			}
			var state types.VirtualMachinePowerState
			l.reg.WithLock(l.bgCtx(), vm, func() { state = vm.Runtime.PowerState })
			if state != types.VirtualMachinePowerStatePoweredOn {
				// stopped through a method the lab does not override (RebootGuest, ...)
				vs.stopRunning()
				l.setGuest(l.bgCtx(), vm, vs, guestOff)
				l.syncVM(l.bgCtx(), vs) // its files are no longer locked
			}
		}
	}
}

type labDatastore struct {
	*simulator.Datastore
	l *Launcher
}

func (d *labDatastore) RefreshDatastore(ctx *simulator.Context, req *types.RefreshDatastore) soap.HasFault {
	if spec := d.l.spec.datastore(d.Name); spec != nil {
		ctx.AutoUpdate(d.Datastore, func() { d.l.updateDatastoreSpace(d.Datastore, spec) })
	}
	return &methods.RefreshDatastoreBody{Res: &types.RefreshDatastoreResponse{}}
}

type labDatastoreSystem struct {
	*simulator.HostDatastoreSystem
	l *Launcher
}

// RemoveDatastore unmounts a datastore from this host; refused while a VM of this host uses it.
func (s *labDatastoreSystem) RemoveDatastore(ctx *simulator.Context, req *types.RemoveDatastore) soap.HasFault {
	body := &methods.RemoveDatastoreBody{}
	ds, ok := ctx.Map.Get(req.Datastore).(*simulator.Datastore)
	if !ok || !containsRef(s.Datastore, req.Datastore) {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	host := ctx.Map.Get(s.Host.Self).(*simulator.HostSystem)
	for _, vs := range s.l.allVMs() {
		vm, ok := ctx.Map.Get(vs.ref).(*simulator.VirtualMachine)
		if !ok || vm.Runtime.Host == nil || *vm.Runtime.Host != host.Self {
			continue
		}
		if containsRef(vm.Datastore, ds.Self) {
			body.Fault_ = simulator.Fault("The resource '"+ds.Name+"' is in use.", &types.ResourceInUse{Type: "Datastore", Name: ds.Name})
			return body
		}
	}
	s.Datastore = removeRef(s.Datastore, ds.Self)
	ctx.AutoUpdate(host, func() { host.Datastore = removeRef(host.Datastore, ds.Self) })
	if parent, ok := ctx.Map.Get(*host.Parent).(mo.Entity); ok {
		switch cr := parent.(type) {
		case *simulator.ClusterComputeResource:
			still := false
			for _, h := range cr.Host {
				if hs, ok := ctx.Map.Get(h).(*simulator.HostSystem); ok && containsRef(hs.Datastore, ds.Self) {
					still = true
				}
			}
			if !still {
				ctx.AutoUpdate(cr, func() { cr.Datastore = removeRef(cr.Datastore, ds.Self) })
			}
		case *mo.ComputeResource:
			ctx.WithLock(cr, func() { cr.Datastore = removeRef(cr.Datastore, ds.Self) })
		}
	}
	var remaining []types.DatastoreHostMount
	ctx.AutoUpdate(ds, func() {
		for _, m := range ds.Host {
			if m.Key != host.Self {
				remaining = append(remaining, m)
			}
		}
		ds.Host = remaining
	})
	if len(remaining) == 0 {
		// no host mounts it any more: it leaves the inventory, as on a real host
		if f, ok := ctx.Map.Get(*ds.Parent).(*simulator.Folder); ok {
			ctx.AutoUpdate(f, func() { f.ChildEntity = removeRef(f.ChildEntity, ds.Self) })
		}
		ctx.Map.Remove(ctx, ds.Self)
	}
	body.Res = &types.RemoveDatastoreResponse{}
	return body
}
