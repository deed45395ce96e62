package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// moveVM unregisters a powered-off VM, renames its home folder on the datastore and registers the
// .vmx from the new place, as a product that copies a VM's files does.
func (lb *lab) moveVM(name, ds, from, newFolder string) *object.VirtualMachine {
	lb.t.Helper()
	ctx := context.Background()
	vm := lb.vm(name)
	if err := vm.Unregister(ctx); err != nil {
		lb.t.Fatal(err)
	}
	old := lb.local(ds, from)
	if err := os.Rename(old, lb.local(ds, newFolder)); err != nil {
		lb.t.Fatal(err)
	}
	folders, _ := lb.dc().Folders(ctx)
	pool := lb.pool()
	res := lb.must(folders.VmFolder.RegisterVM(ctx, "["+ds+"] "+newFolder+"/"+name+".vmx", name, false, pool, nil))
	return object.NewVirtualMachine(lb.c.Client, res.(types.ManagedObjectReference))
}

func (lb *lab) finder() *find.Finder {
	lb.t.Helper()
	f := find.NewFinder(lb.c.Client, true)
	dc, err := f.DefaultDatacenter(context.Background())
	if err != nil {
		lb.t.Fatal(err)
	}
	f.SetDatacenter(dc)
	return f
}

func (lb *lab) dc() *object.Datacenter {
	lb.t.Helper()
	dc, err := find.NewFinder(lb.c.Client, true).DefaultDatacenter(context.Background())
	if err != nil {
		lb.t.Fatal(err)
	}
	return dc
}

func (lb *lab) pool() *object.ResourcePool {
	lb.t.Helper()
	p, err := lb.finder().DefaultResourcePool(context.Background())
	if err != nil {
		lb.t.Fatal(err)
	}
	return p
}

func (lb *lab) nicMAC(vm *object.VirtualMachine) string {
	var m mo.VirtualMachine
	lb.props(vm.Reference(), &m, "config.hardware.device")
	for _, d := range m.Config.Hardware.Device {
		if n, ok := d.(types.BaseVirtualEthernetCard); ok {
			return n.GetVirtualEthernetCard().MacAddress
		}
	}
	return ""
}

func (lb *lab) configUUID(vm *object.VirtualMachine) string {
	var m mo.VirtualMachine
	lb.props(vm.Reference(), &m, "config.uuid")
	return m.Config.Uuid
}

func (lb *lab) question(vm *object.VirtualMachine) *types.VirtualMachineQuestionInfo {
	var m mo.VirtualMachine
	lb.props(vm.Reference(), &m, "runtime")
	return m.Runtime.Question
}

func (lb *lab) taskInfo(task *object.Task) types.TaskInfo {
	var m mo.Task
	lb.props(task.Reference(), &m, "info")
	return m.Info
}

// powerOnAsked starts a power-on and waits until it blocks on a question.
func (lb *lab) powerOnAsked(vm *object.VirtualMachine) (*object.Task, *types.VirtualMachineQuestionInfo) {
	lb.t.Helper()
	task, err := vm.PowerOn(context.Background())
	if err != nil {
		lb.t.Fatal(err)
	}
	var q *types.VirtualMachineQuestionInfo
	eventually(lb.t, 10*time.Second, "question", func() bool { q = lb.question(vm); return q != nil })
	return task, q
}

func choiceLabels(q *types.VirtualMachineQuestionInfo) []string {
	var out []string
	for _, c := range q.Choice.ChoiceInfo {
		e := c.GetElementDescription()
		out = append(out, e.Key+"="+e.Label)
	}
	return out
}

func TestMovedOrCopiedQuestion(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Power = "poweredOff"
	lb := startLab(t, spec)
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	uuid0, mac0 := lb.configUUID(vm), lb.nicMAC(vm)
	x0, _ := readVMX(lb.local("IR-NFS", "ir-app01/ir-app01.vmx"))
	if biosToConfigUUID(x0.Get("uuid.bios")) != uuid0 || mac0 != x0.Get("ethernet0.generatedAddress") || !strings.HasPrefix(mac0, "00:0c:29:") {
		t.Fatalf("identity: config.uuid %s mac %s vmx %s %s", uuid0, mac0, x0.Get("uuid.bios"), x0.Get("ethernet0.generatedAddress"))
	}
	// in place: no question
	lb.must(vm.PowerOn(ctx))
	lb.must(vm.PowerOff(ctx))

	// moved: the task blocks, unanswered it stays blocked; "moved" keeps uuid.bios and the MAC
	vm = lb.moveVM("ir-app01", "IR-NFS", "ir-app01", "moved")
	task, q := lb.powerOnAsked(vm)
	if q.Message[0].Id != "msg.uuid.altered" || !strings.HasPrefix(q.Text, "msg.uuid.altered:") ||
		strings.Join(choiceLabels(q), ",") != "0=button.uuid.cancel,1=button.uuid.movedTheVM,2=button.uuid.copiedTheVM" || q.Choice.DefaultIndex != 2 {
		t.Fatalf("question %+v %v", q, choiceLabels(q))
	}
	time.Sleep(700 * time.Millisecond)
	info := lb.taskInfo(task)
	if info.State != types.TaskInfoStateRunning || info.Progress != questionBlock || lb.moVM(vm).Runtime.PowerState != "poweredOff" {
		t.Fatalf("unanswered: task %s %d%%, power %s", info.State, info.Progress, lb.moVM(vm).Runtime.PowerState)
	}
	if err := vm.Answer(ctx, q.Id, "7"); err == nil {
		t.Fatal("a choice that is not offered was accepted")
	}
	if err := vm.Answer(ctx, q.Id, choiceMoved); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.wait(task, nil); err != nil {
		t.Fatal(err)
	}
	x1, _ := readVMX(lb.local("IR-NFS", "moved/ir-app01.vmx"))
	if lb.configUUID(vm) != uuid0 || lb.nicMAC(vm) != mac0 || x1.Get("uuid.bios") != x0.Get("uuid.bios") || x1.Get("uuid.location") == x0.Get("uuid.location") {
		t.Fatalf("moved: uuid %s mac %s location %s", lb.configUUID(vm), lb.nicMAC(vm), x1.Get("uuid.location"))
	}
	if lb.question(vm) != nil || lb.moVM(vm).Runtime.PowerState != "poweredOn" {
		t.Fatal("moved: still asking or not on")
	}
	lb.must(vm.PowerOff(ctx))
	lb.must(vm.PowerOn(ctx)) // location recorded: not asked again
	lb.must(vm.PowerOff(ctx))

	// cancel fails the power task and changes nothing
	vm = lb.moveVM("ir-app01", "IR-NFS", "moved", "copied")
	task, q = lb.powerOnAsked(vm)
	if err := vm.Answer(ctx, q.Id, choiceCancel); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.wait(task, nil); err == nil || lb.moVM(vm).Runtime.PowerState != "poweredOff" {
		t.Fatalf("cancel: %v", err)
	}
	// copied: a new BIOS UUID and a new generated MAC from it
	task, q = lb.powerOnAsked(vm)
	if err := vm.Answer(ctx, q.Id, choiceCopied); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.wait(task, nil); err != nil {
		t.Fatal(err)
	}
	x2, _ := readVMX(lb.local("IR-NFS", "copied/ir-app01.vmx"))
	uuid2, mac2 := lb.configUUID(vm), lb.nicMAC(vm)
	if uuid2 == uuid0 || mac2 == mac0 || uuid2 != biosToConfigUUID(x2.Get("uuid.bios")) || mac2 != generatedMAC(x2.Get("uuid.bios")) || x2.Get("ethernet0.generatedAddress") != mac2 {
		t.Fatalf("copied: uuid %s mac %s vmx %s", uuid2, mac2, x2.Get("uuid.bios"))
	}
	lb.must(vm.PowerOff(ctx))

	// uuid.action = keep: no question, identity kept
	vm = lb.moveVM("ir-app01", "IR-NFS", "copied", "kept")
	vs := lb.l.vmByRef(vm.Reference().Value)
	vs.mu.Lock()
	_ = lb.l.rewriteVMX(vs, func(x *VMX) { x.Set("uuid.action", "keep") })
	vs.mu.Unlock()
	lb.must(vm.PowerOn(ctx))
	if lb.configUUID(vm) != uuid2 {
		t.Fatal("keep changed the uuid")
	}
}

func TestQuestionCancelOnlyAndInjected(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Power = "poweredOff"
	spec.VMs[0].UUIDQuestion = "cancelOnly"
	lb := startLab(t, spec)
	ctx := context.Background()
	vm := lb.moveVM("ir-app01", "IR-NFS", "ir-app01", "elsewhere")
	task, q := lb.powerOnAsked(vm)
	if strings.Join(choiceLabels(q), ",") != "0=button.uuid.cancel" {
		t.Fatalf("choices %v", choiceLabels(q))
	}
	if err := vm.Answer(ctx, q.Id, choiceMoved); err == nil {
		t.Fatal("moved accepted on a cancel-only question")
	}
	_ = vm.Answer(ctx, q.Id, choiceCancel)
	if _, err := lb.wait(task, nil); err == nil {
		t.Fatal("cancel did not fail the task")
	}

	// a question of another kind, injected through the control API
	code, body := lb.control("POST", "/faults", map[string]any{"kind": "question", "vm": "ir-app01", "method": "PowerOnVM_Task",
		"messageId": "msg.hbacommon.outofspace", "text": "There is no more space for virtual disk.", "choices": []string{"button.retry", "button.abort"}, "count": 1})
	if code != 201 {
		t.Fatalf("rule: %d %s", code, body)
	}
	vs := lb.l.vmByRef(vm.Reference().Value)
	vs.mu.Lock()
	_ = lb.l.rewriteVMX(vs, func(x *VMX) { x.Set("uuid.action", "keep") })
	vs.mu.Unlock()
	task, q = lb.powerOnAsked(vm)
	if q.Message[0].Id != "msg.hbacommon.outofspace" || strings.Join(choiceLabels(q), ",") != "0=button.retry,1=button.abort" {
		t.Fatalf("injected %+v", q)
	}
	_ = vm.Answer(ctx, q.Id, "0")
	if _, err := lb.wait(task, nil); err != nil || lb.moVM(vm).Runtime.PowerState != "poweredOn" {
		t.Fatalf("retry: %v", err)
	}
}

func TestResumeOfMovedSuspendedVMAsks(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Power = "suspended"
	lb := startLab(t, spec)
	ctx := context.Background()
	uuid0 := lb.configUUID(lb.vm("ir-app01"))
	vm := lb.moveVM("ir-app01", "IR-NFS", "ir-app01", "resumed")
	if p := lb.moVM(vm).Runtime.PowerState; p != "suspended" {
		t.Fatalf("registered %s", p)
	}
	task, q := lb.powerOnAsked(vm)
	if q.Message[0].Id != "msg.uuid.altered" {
		t.Fatalf("question %+v", q)
	}
	_ = vm.Answer(ctx, q.Id, choiceMoved)
	if _, err := lb.wait(task, nil); err != nil {
		t.Fatal(err)
	}
	x, _ := readVMX(lb.local("IR-NFS", "resumed/ir-app01.vmx"))
	entries, _ := os.ReadDir(lb.local("IR-NFS", "resumed"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".vmss") {
			t.Fatal("resume left the .vmss")
		}
	}
	if x.Get("checkpoint.vmState") != "" || lb.configUUID(vm) != uuid0 || lb.moVM(vm).Runtime.PowerState != "poweredOn" {
		t.Fatal("resume after moved")
	}
}
