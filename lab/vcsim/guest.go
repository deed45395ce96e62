package main

import (
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// guestPhase is what the guest is doing, as the VM's guest properties report it.
type guestPhase int

const (
	guestOff      guestPhase = iota // powered off or suspended
	guestBooting                    // powered on, heartbeat not yet green
	guestRunning                    // Tools running, heartbeat green
	guestStopping                   // ShutdownGuest accepted, still powered on
	guestHung                       // the guest OS stopped responding: Tools not running, heartbeat red
)

// setGuest publishes a guest phase coherently: guest.guestState, guest.toolsRunningStatus,
// guest.toolsStatus, guestHeartbeatStatus and summary.quickStats.guestHeartbeatStatus.
// A VM without Tools never leaves gray / notRunning (toolsNotInstalled).
func (l *Launcher) setGuest(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, phase guestPhase) {
	noTools := vs.noTools
	ctx.AutoUpdate(vm, func() {
		if phase != guestOff && vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			return
		}
		status := types.ManagedEntityStatusGray
		tools := string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
		toolsStatus := types.VirtualMachineToolsStatusToolsNotRunning
		state := string(types.VirtualMachineGuestStateNotRunning)
		if (phase == guestRunning || phase == guestStopping) && !noTools {
			status = types.ManagedEntityStatusGreen
			tools = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
			toolsStatus = types.VirtualMachineToolsStatusToolsOk
			state = string(types.VirtualMachineGuestStateRunning)
			if phase == guestStopping {
				state = string(types.VirtualMachineGuestStateShuttingDown)
			}
		}
		if phase == guestHung && !noTools {
			// Tools installed but silent: vSphere shows no heartbeat (red), not "no Tools" (gray).
			status = types.ManagedEntityStatusRed
		}
		versionStatus := string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)
		if noTools {
			toolsStatus = types.VirtualMachineToolsStatusToolsNotInstalled
			versionStatus = string(types.VirtualMachineToolsVersionStatusGuestToolsNotInstalled)
		}
		vm.GuestHeartbeatStatus = status
		vm.Summary.QuickStats.GuestHeartbeatStatus = status
		if vm.Guest == nil {
			vm.Guest = &types.GuestInfo{}
		}
		vm.Guest.ToolsRunningStatus = tools
		vm.Guest.ToolsStatus = toolsStatus
		vm.Guest.ToolsVersionStatus2 = versionStatus
		vm.Guest.GuestState = state
		if vm.Summary.Guest != nil {
			vm.Summary.Guest.ToolsRunningStatus = tools
			vm.Summary.Guest.ToolsStatus = toolsStatus
		}
	})
	vs.mu.Lock()
	vs.phase = phase
	vs.mu.Unlock()
}

// startGuest schedules the heartbeat turning green after d (boot or resume), for this power cycle only.
func (l *Launcher) startGuest(vm *simulator.VirtualMachine, vs *vmState, d time.Duration) {
	vs.mu.Lock()
	gen := vs.powerGen
	if vs.hbTimer != nil {
		vs.hbTimer.Stop()
	}
	vs.hbTimer = time.AfterFunc(d, func() {
		vs.mu.RLock()
		same := vs.powerGen == gen && vs.running
		vs.mu.RUnlock()
		if same {
			l.setGuest(l.bgCtx(), vm, vs, guestRunning)
		}
	})
	vs.mu.Unlock()
}

func secs(f *float64) time.Duration { return time.Duration(*f * float64(time.Second)) }

// ShutdownGuest asks the guest to shut down through VMware Tools: without Tools running it fails
// with ToolsUnavailable, as vSphere does; otherwise the power state turns poweredOff after
// guest.shutdownSec, unless the guest ignores it (VM option ignoreShutdown) or its shutdown action
// (control API /guest/shutdown-action) says otherwise: "restart", a guest OS that reboots instead of
// halting (after guest.shutdownSec its Tools stop and the heartbeat goes gray, then it boots again in
// guest.bootSec; the VM never leaves poweredOn, as with RebootGuest); "hang", Tools that stop responding
// half way through (heartbeat red, toolsRunningStatus guestToolsNotRunning) and a VM that stays on.
func (v *labVM) ShutdownGuest(ctx *simulator.Context, req *types.ShutdownGuest) soap.HasFault {
	vs := v.l.vmByRef(v.Self.Value)
	if vs == nil {
		return &methods.ShutdownGuestBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: v.Self})}
	}
	if v.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		return &methods.ShutdownGuestBody{Fault_: simulator.Fault("", &types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOn, ExistingState: v.Runtime.PowerState})}
	}
	if v.Guest == nil || v.Guest.ToolsRunningStatus != string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		return &methods.ShutdownGuestBody{Fault_: simulator.Fault("VMware Tools is not running in the guest", &types.ToolsUnavailable{})}
	}
	vs.mu.RLock()
	gen, ignore, stopping, action := vs.powerGen, vs.ignoreShutdown, vs.phase == guestStopping, vs.shutdownAction
	vs.mu.RUnlock()
	if ignore || stopping || action == "ignore" {
		return &methods.ShutdownGuestBody{Res: &types.ShutdownGuestResponse{}}
	}
	v.l.setGuest(ctx, v.VirtualMachine, vs, guestStopping)
	vm, l := v.VirtualMachine, v.l
	after := secs(l.spec.Guest.ShutdownSec)
	if action == "hang" {
		after /= 2
	}
	time.AfterFunc(after, func() {
		vs.mu.RLock()
		same := vs.powerGen == gen
		vs.mu.RUnlock()
		if !same {
			return
		}
		bg := l.bgCtx()
		switch action {
		case "restart":
			l.setGuest(bg, vm, vs, guestBooting)
			l.startGuest(vm, vs, secs(l.spec.Guest.BootSec))
			return
		case "hang":
			l.setGuest(bg, vm, vs, guestHung)
			return
		}
		var f types.BaseMethodFault
		bg.WithLock(vm, func() { f = l.powerOff(bg, vm, vs) })
		if f != nil {
			l.logf("guest shutdown %s: %T", vs.name, f)
		}
	})
	return &methods.ShutdownGuestBody{Res: &types.ShutdownGuestResponse{}}
}
