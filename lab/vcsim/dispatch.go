package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// dispatch is installed as simulator.Registry.Handler: it injects SOAP fault rules and
// routes the methods the lab changes to wrapper types that embed the stock objects.
func (l *Launcher) dispatch(ctx *simulator.Context, m *simulator.Method) (mo.Reference, types.BaseMethodFault) {
	if ctx.Context != nil && ctx.Context.Value(internalKey{}) != nil {
		return nil, nil
	}
	if f := l.faults.soapFault(m.Name, m.This); f != nil {
		return nil, f
	}
	if f := l.checkPrivileges(ctx, m); f != nil {
		return nil, f
	}
	w := l.override(ctx, m)
	if w == nil {
		return nil, nil
	}
	// Service.call prefers ctx.Session.Get(ref) over the handler returned here, so the
	// stateless wrapper is also placed in the session's own registry (it delegates every
	// method it does not override to the stock object it embeds).
	if ctx.Session != nil && ctx.Session.Registry != nil {
		if _, ok := ctx.Session.Registry.Get(m.This).(labObject); !ok {
			ctx.Session.Registry.Put(w)
			l.wrapperRegistries.Store(ctx.Session.Registry, struct{}{})
		}
	}
	return w, nil
}

// labObject marks the wrapper types.
type labObject interface{ lab() }

func (*labVM) lab()              {}
func (*labSnapshot) lab()        {}
func (*labFolder) lab()          {}
func (*labDatastoreSystem) lab() {}
func (*labDatastore) lab()       {}

func (l *Launcher) override(ctx *simulator.Context, m *simulator.Method) mo.Reference {
	switch o := ctx.Map.Get(m.This).(type) {
	case *simulator.VirtualMachine:
		switch m.Name {
		case "PowerOnVM_Task", "PowerOffVM_Task", "SuspendVM_Task", "CreateSnapshot_Task", "RemoveAllSnapshots_Task",
			"ConsolidateVMDisks_Task", "RelocateVM_Task", "UnregisterVM", "Destroy_Task", "RevertToCurrentSnapshot_Task",
			"AnswerVM", "ShutdownGuest", "ReconfigVM_Task", "QueryChangedDiskAreas":
			return &labVM{VirtualMachine: o, l: l}
		}
	case *simulator.VirtualMachineSnapshot:
		if m.Name == "RemoveSnapshot_Task" || m.Name == "RevertToSnapshot_Task" {
			return &labSnapshot{VirtualMachineSnapshot: o, l: l}
		}
	case *simulator.Folder:
		if m.Name == "RegisterVM_Task" {
			return &labFolder{Folder: o, l: l}
		}
	case *simulator.HostDatastoreSystem:
		if m.Name == "RemoveDatastore" {
			return &labDatastoreSystem{HostDatastoreSystem: o, l: l}
		}
	case *simulator.VirtualDiskManager:
		if m.Name == "CopyVirtualDisk_Task" {
			return &labVDM{VirtualDiskManager: o, l: l}
		}
	case *simulator.Datastore:
		if m.Name == "RefreshDatastore" {
			return &labDatastore{Datastore: o, l: l}
		}
	case *simulator.AuthorizationManager:
		switch m.Name {
		case "HasPrivilegeOnEntities", "HasPrivilegeOnEntity", "HasUserPrivilegeOnEntities", "FetchUserPrivilegeOnEntities":
			return &labAuthz{AuthorizationManager: o, l: l}
		}
	}
	return nil
}

type labVM struct {
	*simulator.VirtualMachine
	l *Launcher
}

// task runs a lab operation as a vSphere task on this VM.
func (v *labVM) task(ctx *simulator.Context, name string, run func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault)) types.ManagedObjectReference {
	return v.l.vmTask(ctx, v.Self, name, run)
}

// vmTask runs a mutating task on a VM. One task at a time per VM: while one runs, the next fails
// with TaskInProgress, as on a real host. The work runs without holding the simulator's lock on
// the VM (a suspend or a question may take minutes, and property reads must go on meanwhile).
func (l *Launcher) vmTask(ctx *simulator.Context, vmRef types.ManagedObjectReference, name string, run func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault)) types.ManagedObjectReference {
	vs := l.vmByRef(vmRef.Value)
	var busy *types.ManagedObjectReference
	question := ""
	if vs != nil {
		vs.mu.Lock()
		busy = vs.busy
		if vs.question != nil {
			question = vs.question.info.Text
		}
		if busy == nil {
			vs.busy = &types.ManagedObjectReference{Type: "Task"} // claimed; the task's ref follows
		}
		vs.mu.Unlock()
	}
	t := l.labTask(ctx, vmRef, name, func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if question != "" {
			// A VM waiting on a question refuses other operations until it is answered (QuestionPending).
			return nil, &types.QuestionPending{Text: question}
		}
		if busy != nil {
			return nil, &types.TaskInProgress{Task: *busy}
		}
		if vs == nil || ctx.Map.Get(vmRef) == nil {
			return nil, &types.ManagedObjectNotFound{Obj: vmRef}
		}
		defer func() {
			vs.mu.Lock()
			vs.busy = nil
			vs.mu.Unlock()
		}()
		return run(vs, t)
	}, func(t *simulator.Task) {
		if vs != nil && busy == nil {
			vs.mu.Lock()
			vs.busy = &t.Self
			vs.mu.Unlock()
		}
	})
	return t.Self
}

// labTask runs work as a vSphere task on obj with the lab's own lifecycle rather than Task.Run:
// Task.Run holds the simulator's lock on the object for the whole work (a suspend, a question or a
// paced disk copy may take minutes, and property reads must go on meanwhile) and reports a fault's
// Go type as its message. started runs once the task exists, before the work.
func (l *Launcher) labTask(ctx *simulator.Context, obj types.ManagedObjectReference, name string, work func(t *simulator.Task) (types.AnyType, types.BaseMethodFault), started func(t *simulator.Task)) *simulator.Task {
	t := simulator.CreateTask(obj, name, nil)
	t.Self = types.ManagedObjectReference{Type: "Task", Value: fmt.Sprintf("task-lab-%d", l.taskSeq.Add(1))}
	t.Info.Key, t.Info.Task = t.Self.Value, t.Self
	ctx.Map.Put(t)
	ctx.Map.AtomicUpdate(ctx, t, []types.PropertyChange{
		{Name: "info.startTime", Val: time.Now()},
		{Name: "info.state", Val: types.TaskInfoStateRunning},
	})
	if started != nil {
		started(t)
	}
	go func() {
		res, fault := work(t)
		state := types.TaskInfoStateSuccess
		var taskErr any
		if fault != nil {
			state = types.TaskInfoStateError
			taskErr = types.LocalizedMethodFault{Fault: fault, LocalizedMessage: faultMessage(fault)}
		}
		ctx.Map.AtomicUpdate(ctx, t, []types.PropertyChange{
			{Name: "info.completeTime", Val: time.Now()},
			{Name: "info.state", Val: state},
			{Name: "info.result", Val: res},
			{Name: "info.error", Val: taskErr},
		})
	}()
	return t
}

// faultMessage is a task error's localizedMessage, worded as vSphere words the common ones.
func faultMessage(f types.BaseMethodFault) string {
	switch x := f.(type) {
	case *types.TaskInProgress:
		return "Another task is already in progress."
	case *types.QuestionPending:
		return "The operation is not allowed in the current state because the virtual machine has a question pending: '" + x.Text + "'"
	case *types.GenericVmConfigFault:
		return x.Reason
	case *types.InvalidPowerState:
		return fmt.Sprintf("The attempted operation cannot be performed in the current state (%s).", x.ExistingState)
	case *types.SystemError:
		return x.Reason
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", f), "*types.")
}

func (v *labVM) PowerOnVMTask(ctx *simulator.Context, req *types.PowerOnVM_Task) soap.HasFault {
	ref := v.task(ctx, "powerOn", func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, v.l.powerOn(ctx, v.VirtualMachine, vs, t)
	})
	return &methods.PowerOnVM_TaskBody{Res: &types.PowerOnVM_TaskResponse{Returnval: ref}}
}

func (v *labVM) PowerOffVMTask(ctx *simulator.Context, req *types.PowerOffVM_Task) soap.HasFault {
	ref := v.task(ctx, "powerOff", func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, v.l.powerOff(ctx, v.VirtualMachine, vs)
	})
	return &methods.PowerOffVM_TaskBody{Res: &types.PowerOffVM_TaskResponse{Returnval: ref}}
}

func (v *labVM) SuspendVMTask(ctx *simulator.Context, req *types.SuspendVM_Task) soap.HasFault {
	ref := v.task(ctx, "suspend", func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, v.l.suspend(ctx, v.VirtualMachine, vs, true)
	})
	return &methods.SuspendVM_TaskBody{Res: &types.SuspendVM_TaskResponse{Returnval: ref}}
}

func (v *labVM) CreateSnapshotTask(ctx *simulator.Context, req *types.CreateSnapshot_Task) soap.HasFault {
	ref := v.task(ctx, "createSnapshot", func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return v.l.createSnapshot(ctx, v.VirtualMachine, vs, req)
	})
	return &methods.CreateSnapshot_TaskBody{Res: &types.CreateSnapshot_TaskResponse{Returnval: ref}}
}

func (v *labVM) RemoveAllSnapshotsTask(ctx *simulator.Context, req *types.RemoveAllSnapshots_Task) soap.HasFault {
	ref := v.task(ctx, "removeAllSnapshots", func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, v.l.removeAllSnapshots(ctx, v.VirtualMachine, vs, req)
	})
	return &methods.RemoveAllSnapshots_TaskBody{Res: &types.RemoveAllSnapshots_TaskResponse{Returnval: ref}}
}

func (v *labVM) ConsolidateVMDisksTask(ctx *simulator.Context, req *types.ConsolidateVMDisks_Task) soap.HasFault {
	ref := v.task(ctx, "consolidateDisks", func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, v.l.consolidate(ctx, vs)
	})
	return &methods.ConsolidateVMDisks_TaskBody{Res: &types.ConsolidateVMDisks_TaskResponse{Returnval: ref}}
}

func (v *labVM) RelocateVMTask(ctx *simulator.Context, req *types.RelocateVM_Task) soap.HasFault {
	ref := v.task(ctx, "relocate", func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, v.l.relocate(ctx, v.VirtualMachine, vs, req)
	})
	return &methods.RelocateVM_TaskBody{Res: &types.RelocateVM_TaskResponse{Returnval: ref}}
}

// ReconfigVM_Task is the stock one, but counts as a mutating task (TaskInProgress while another
// runs), a new disk gets real files, a .vmx entry and layoutEx (reconfig.go), and an adapter goes
// only onto a port group of the VM's host (network.go).
func (v *labVM) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	ref := v.task(ctx, "reconfigVm", func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if fault := checkNicBackings(ctx, v.VirtualMachine, req); fault != nil {
			return nil, fault
		}
		added, fault := v.l.prepareDiskAdds(ctx, v.VirtualMachine, vs, req)
		if fault != nil {
			return nil, fault
		}
		cbtBefore := v.Config.ChangeTrackingEnabled != nil && *v.Config.ChangeTrackingEnabled
		var body soap.HasFault
		ctx.WithLock(v.VirtualMachine, func() { body = v.VirtualMachine.ReconfigVMTask(ctx, req) })
		res, fault := runStock(ctx, body)
		if fault != nil {
			v.l.undoDiskAdds(vs, added)
			return nil, fault
		}
		// Change tracking switched off or on: what it tracked is gone (cbt.go).
		if on := req.Spec.ChangeTrackingEnabled; on != nil && *on != cbtBefore {
			vs.resetCBT()
		}
		if len(req.Spec.DeviceChange) > 0 {
			v.l.syncVMNetworks(ctx, v.VirtualMachine)
		}
		if len(added) > 0 {
			renameDevices(ctx, v.VirtualMachine)
			v.l.syncVM(ctx, vs)
			go v.l.saveJournal()
		}
		return res, nil
	})
	return &methods.ReconfigVM_TaskBody{Res: &types.ReconfigVM_TaskResponse{Returnval: ref}}
}

func (v *labVM) UnregisterVM(ctx *simulator.Context, req *types.UnregisterVM) soap.HasFault {
	vs := v.l.vmByRef(v.Self.Value)
	if vs == nil || ctx.Map.Get(v.Self) == nil {
		return &methods.UnregisterVMBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: v.Self})}
	}
	vs.mu.RLock()
	q := vs.question
	vs.mu.RUnlock()
	if q != nil {
		return &methods.UnregisterVMBody{Fault_: simulator.Fault("The operation is not allowed in the current state because the virtual machine has a question pending: '"+q.info.Text+"'", &types.QuestionPending{Text: q.info.Text})}
	}
	body := v.VirtualMachine.UnregisterVM(ctx, req)
	if body.Fault() == nil {
		v.l.forget(vs)
		v.l.dropWrappers(ctx, v.Self)
		v.l.linkNetworks(ctx)
	}
	return body
}

func (v *labVM) DestroyTask(ctx *simulator.Context, req *types.Destroy_Task) soap.HasFault {
	ref := v.task(ctx, "destroy", func(vs *vmState, t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if v.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			return nil, &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff, ExistingState: v.Runtime.PowerState}
		}
		vs.stopRunning()
		if _, f := runStock(ctx, v.VirtualMachine.DestroyTask(ctx, req)); f != nil {
			return nil, f
		}
		v.l.forget(vs)
		v.l.dropWrappers(ctx, v.Self)
		v.l.linkNetworks(ctx)
		return nil, nil
	})
	return &methods.Destroy_TaskBody{Res: &types.Destroy_TaskResponse{Returnval: ref}}
}

// forget drops an unregistered/destroyed VM from the launcher and journal.
func (l *Launcher) forget(vs *vmState) {
	vs.stopRunning()
	l.mu.Lock()
	delete(l.vms, vs.ref.Value)
	if vs.specName != "" {
		l.removed[vs.specName] = true
	}
	l.mu.Unlock()
	go l.saveJournal()
}

// dropWrappers removes a VM that is no longer in the inventory from every session registry that
// holds its wrapper: a session looks there before the inventory, so the VM would otherwise still
// answer property reads and take tasks (a Rename_Task on it brought the simulator down). A real
// host answers ManagedObjectNotFound, "thrown when a request refers to a managed object that no
// longer exists" (vSphere Web Services API reference, vmodl.fault.ManagedObjectNotFound; thrown by
// RetrieveProperties and RetrievePropertiesEx among others), as the stock simulator does once the
// session no longer holds the object.
func (l *Launcher) dropWrappers(ctx *simulator.Context, ref types.ManagedObjectReference) {
	l.wrapperRegistries.Range(func(key, _ any) bool {
		if r := key.(*simulator.Registry); r.Get(ref) != nil {
			r.Remove(ctx, ref)
		}
		return true
	})
}

type labSnapshot struct {
	*simulator.VirtualMachineSnapshot
	l *Launcher
}

func (s *labSnapshot) RemoveSnapshotTask(ctx *simulator.Context, req *types.RemoveSnapshot_Task) soap.HasFault {
	ref := s.l.vmTask(ctx, s.Vm, "removeSnapshot", func(_ *vmState, _ *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if ctx.Map.Get(s.Self) == nil {
			return nil, &types.ManagedObjectNotFound{Obj: s.Self}
		}
		return nil, s.l.removeSnapshot(ctx, s.VirtualMachineSnapshot, req)
	})
	return &methods.RemoveSnapshot_TaskBody{Res: &types.RemoveSnapshot_TaskResponse{Returnval: ref}}
}

type labFolder struct {
	*simulator.Folder
	l *Launcher
}

func (f *labFolder) RegisterVMTask(ctx *simulator.Context, req *types.RegisterVM_Task) soap.HasFault {
	ref := simulator.CreateTask(f.Folder, "registerVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if req.AsTemplate {
			return nil, &types.NotSupported{}
		}
		if req.Pool == nil {
			return nil, &types.InvalidArgument{InvalidProperty: "pool"}
		}
		if _, ok := ctx.Map.Get(*req.Pool).(mo.Entity); !ok {
			return nil, &types.ManagedObjectNotFound{Obj: *req.Pool}
		}
		if req.Host != nil {
			if _, ok := ctx.Map.Get(*req.Host).(*simulator.HostSystem); !ok {
				return nil, &types.ManagedObjectNotFound{Obj: *req.Host}
			}
		}
		p, ok := parseDSPath(req.Path)
		if !ok {
			return nil, &types.InvalidDatastorePath{DatastorePath: req.Path}
		}
		if _, ok := f.l.dsDirs[p.DS]; !ok {
			return nil, &types.NotFound{}
		}
		vs, fault := f.l.registerVM(ctx, f.Folder, p, req.Name, *req.Pool, req.Host)
		if fault != nil {
			return nil, fault
		}
		go f.l.saveJournal()
		return vs.ref, nil
	}).Run(ctx)
	return &methods.RegisterVM_TaskBody{Res: &types.RegisterVM_TaskResponse{Returnval: ref}}
}

// Reverting is not modelled on disk yet: refuse clearly rather than leave the files inconsistent.
func (v *labVM) RevertToCurrentSnapshotTask(ctx *simulator.Context, req *types.RevertToCurrentSnapshot_Task) soap.HasFault {
	return &methods.RevertToCurrentSnapshot_TaskBody{Fault_: simulator.Fault("quickmig lab: snapshot revert is not simulated", &types.NotSupported{})}
}

func (s *labSnapshot) RevertToSnapshotTask(ctx *simulator.Context, req *types.RevertToSnapshot_Task) soap.HasFault {
	return &methods.RevertToSnapshot_TaskBody{Fault_: simulator.Fault("quickmig lab: snapshot revert is not simulated", &types.NotSupported{})}
}
