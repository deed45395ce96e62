package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Guest shutdown actions (control API /guest/shutdown-action): a guest that restarts instead of
// halting stays poweredOn with a Tools gap; Tools that stop responding mid-shutdown leave the VM on
// with a red heartbeat and refuse a second ShutdownGuest.
func TestShutdownActionsRestartAndHang(t *testing.T) {
	spec := guestSpec(t)
	spec.VMs[0].Power = "poweredOn"
	lb := startLab(t, spec)
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	eventually(t, 10*time.Second, "boot", func() bool { return lb.moVM(vm).GuestHeartbeatStatus == types.ManagedEntityStatusGreen })
	if code, b := lb.control("POST", "/guest/shutdown-action", map[string]string{"vm": "ir-app01", "action": "nonsense"}); code != 400 {
		t.Fatalf("bad action: %d %s", code, b)
	}
	if code, b := lb.control("POST", "/guest/shutdown-action", map[string]string{"vm": "ir-app01", "action": "restart"}); code != 200 {
		t.Fatalf("restart: %d %s", code, b)
	}
	if err := vm.ShutdownGuest(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Tools gone while restarting", func() bool {
		return lb.moVM(vm).Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
	})
	if m := lb.moVM(vm); m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("a restarting guest left poweredOn: %s", m.Runtime.PowerState)
	}
	eventually(t, 10*time.Second, "back after the restart", func() bool { return lb.moVM(vm).GuestHeartbeatStatus == types.ManagedEntityStatusGreen })
	if m := lb.moVM(vm); m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("after the restart: %s", m.Runtime.PowerState)
	}

	if code, b := lb.control("POST", "/guest/shutdown-action", map[string]string{"vm": "ir-app01", "action": "hang"}); code != 200 {
		t.Fatalf("hang: %d %s", code, b)
	}
	if err := vm.ShutdownGuest(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "Tools stop responding", func() bool { return lb.moVM(vm).GuestHeartbeatStatus == types.ManagedEntityStatusRed })
	time.Sleep(1200 * time.Millisecond)
	m := lb.moVM(vm)
	if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || m.Guest.ToolsRunningStatus != string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning) {
		t.Fatalf("hung guest: %s %s", m.Runtime.PowerState, m.Guest.ToolsRunningStatus)
	}
	if err := vm.ShutdownGuest(ctx); err == nil || !soap.IsSoapFault(err) {
		t.Fatalf("ShutdownGuest of a guest whose Tools do not respond: %v", err)
	}
	lb.must(vm.PowerOff(ctx)) // a hard power-off still works
}

// Another client's task (control API /tasks/hold) makes the VM's mutating tasks fail with
// TaskInProgress naming it, until it ends; a VM waiting on a question refuses power-off and
// unregistration with QuestionPending.
func TestHeldTaskAndQuestionPending(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Power = "poweredOff"
	lb := startLab(t, spec)
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	code, body := lb.control("POST", "/tasks/hold", map[string]any{"vm": "ir-app01", "seconds": 1.5})
	if code != 201 {
		t.Fatalf("hold: %d %s", code, body)
	}
	if code, _ := lb.control("POST", "/tasks/hold", map[string]any{"vm": "ir-app01", "seconds": 1}); code != 409 {
		t.Fatalf("second hold on a busy VM: %d", code)
	}
	_, err := lb.wait(vm.PowerOn(ctx))
	if _, ok := taskFault(err).(*types.TaskInProgress); !ok {
		t.Fatalf("power-on during another task: %v", err)
	}
	eventually(t, 10*time.Second, "the held task ends", func() bool {
		_, err := lb.wait(vm.PowerOn(ctx))
		return err == nil
	})
	lb.must(vm.PowerOff(ctx))

	// a question pending on a power-on: power-off and unregister refuse with QuestionPending
	code, body = lb.control("POST", "/faults", map[string]any{"kind": "question", "vm": "ir-app01", "method": "PowerOnVM_Task",
		"messageId": "msg.hbacommon.outofspace", "text": "There is no more space for virtual disk.", "choices": []string{"Retry", "Cancel"}, "count": 1})
	if code != 201 {
		t.Fatalf("rule: %d %s", code, body)
	}
	task, q := lb.powerOnAsked(vm)
	_, err = lb.wait(vm.PowerOff(ctx))
	if f, ok := taskFault(err).(*types.QuestionPending); !ok || f.Text == "" {
		t.Fatalf("power-off with a question pending: %v", err)
	}
	if err := vm.Unregister(ctx); err == nil {
		t.Fatal("unregister with a question pending succeeded")
	}
	_ = vm.Answer(ctx, q.Id, "1") // Cancel
	if _, err := lb.wait(task, nil); err == nil {
		t.Fatal("Cancel did not fail the power-on")
	}
	if m := lb.moVM(vm); m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff || m.Runtime.Question != nil {
		t.Fatalf("after Cancel: %s %+v", m.Runtime.PowerState, m.Runtime.Question)
	}
}

// taskFault is the fault a failed task reports, or nil.
func taskFault(err error) types.BaseMethodFault {
	var te task.Error
	if errors.As(err, &te) {
		return te.Fault()
	}
	return nil
}
