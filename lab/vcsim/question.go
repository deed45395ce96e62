package main

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The uuid question as ESXi asks it (message id msg.uuid.altered; choice labels button.uuid.*,
// keys 0/1/2, default "I Copied It"): VMware KB 1541 and the vSphere API's AnswerVM.
const (
	uuidMsgID     = "msg.uuid.altered"
	uuidMsgText   = "This virtual machine might have been moved or copied.\nIn order to configure certain management and networking features, VMware ESX needs to know if this virtual machine was moved or copied.\n\nIf you don't know, answer \"I Copied It\"."
	choiceCancel  = "0"
	choiceMoved   = "1"
	choiceCopied  = "2"
	questionBlock = 20 // task progress (%) while a power task waits on a question
)

// pendingQuestion is a question a power task waits on; AnswerVM sends the choice key.
type pendingQuestion struct {
	info   types.VirtualMachineQuestionInfo
	answer chan string
}

// locationUUID is what ESXi derives from the host and the .vmx path (KB 1541): a VM whose
// uuid.location differs was moved or copied since it last ran.
func (l *Launcher) locationUUID(host string, vmx dsPath) string {
	p := "/vmfs/volumes/" + vmx.DS + "/" + vmx.Path
	return uuidBytes(hashString("host:"+host), hashString(p), " ")
}

// biosToConfigUUID turns the .vmx's "56 4d ..-.. .." form into config.uuid's 8-4-4-4-12 form.
func biosToConfigUUID(bios string) string {
	h := strings.NewReplacer(" ", "", "-", "").Replace(bios)
	if len(h) != 32 {
		return ""
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// generatedMAC is ESXi's generated address: VMware's OUI 00:0c:29 and the BIOS UUID's last three bytes.
func generatedMAC(bios string) string {
	h := strings.NewReplacer(" ", "", "-", "").Replace(bios)
	if len(h) != 32 {
		return ""
	}
	return "00:0c:29:" + h[26:28] + ":" + h[28:30] + ":" + h[30:32]
}

// nicMAC is the generated MAC of adapter i: the first from the BIOS UUID, each further one differing in
// its last byte, as ESXi numbers them.
func nicMAC(bios string, i int) string {
	mac := generatedMAC(bios)
	if i > 0 && mac != "" {
		mac = mac[:15] + fmt.Sprintf("%02x", (hashString(bios)+uint64(i))&0xff)
	}
	return mac
}

func uuidQuestion(cancelOnly bool, id string) types.VirtualMachineQuestionInfo {
	choices := []types.BaseElementDescription{&types.ElementDescription{Description: types.Description{Label: "button.uuid.cancel", Summary: "Cancel"}, Key: choiceCancel}}
	def := int32(0)
	if !cancelOnly {
		choices = append(choices,
			&types.ElementDescription{Description: types.Description{Label: "button.uuid.movedTheVM", Summary: "I Moved It"}, Key: choiceMoved},
			&types.ElementDescription{Description: types.Description{Label: "button.uuid.copiedTheVM", Summary: "I Copied It"}, Key: choiceCopied})
		def = 2
	}
	return types.VirtualMachineQuestionInfo{
		Id:      id,
		Text:    uuidMsgID + ":" + uuidMsgText,
		Choice:  types.ChoiceOption{OptionType: types.OptionType{ValueIsReadonly: types.NewBool(false)}, ChoiceInfo: choices, DefaultIndex: def},
		Message: []types.VirtualMachineMessage{{Id: uuidMsgID, Text: uuidMsgText}},
	}
}

// ask publishes a question on the VM, moves the task to questionBlock % and waits for AnswerVM.
// The launcher stopping answers nothing: the task fails.
func (l *Launcher) ask(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, task *simulator.Task, q types.VirtualMachineQuestionInfo) (string, types.BaseMethodFault) {
	p := &pendingQuestion{info: q, answer: make(chan string, 1)}
	vs.mu.Lock()
	vs.question = p
	vs.mu.Unlock()
	ctx.AutoUpdate(vm, func() {
		vm.Runtime.Question = &p.info
		vm.Summary.Runtime.Question = &p.info
	})
	if task != nil {
		ctx.Map.AtomicUpdate(ctx, task, []types.PropertyChange{{Name: "info.progress", Val: int32(questionBlock)}})
	}
	var ans string
	var fault types.BaseMethodFault
	select {
	case ans = <-p.answer:
	case <-l.done:
		fault = &types.SystemError{Reason: "quickmig lab stopped while a question was pending"}
	}
	vs.mu.Lock()
	vs.question = nil
	vs.mu.Unlock()
	ctx.AutoUpdate(vm, func() {
		vm.Runtime.Question = nil
		vm.Summary.Runtime.Question = nil
	})
	return ans, fault
}

// checkQuestions runs before a power-on or resume: an injected question (control API, kind
// "question") and the uuid question when the .vmx moved. It applies the answer to the .vmx.
func (l *Launcher) checkQuestions(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState, task *simulator.Task, method string) types.BaseMethodFault {
	vs.mu.Lock()
	vs.questionSeq++
	seq := vs.questionSeq
	vs.mu.Unlock()
	if fr := l.faults.take("question", func(r *faultRule) bool {
		return (r.Method == "" || r.Method == method) && (r.VM == "" || r.VM == vs.name || r.VM == vs.ref.Value)
	}); fr != nil {
		q := fr.questionInfo(fmt.Sprintf("%s-%d", vs.ref.Value, seq))
		ans, f := l.ask(ctx, vm, vs, task, q)
		if f != nil {
			return f
		}
		for _, c := range q.Choice.ChoiceInfo {
			label := strings.ToLower(c.GetElementDescription().Label)
			if c.GetElementDescription().Key == ans && (strings.Contains(label, "cancel") || strings.Contains(label, "abort")) {
				return &types.GenericVmConfigFault{Reason: fmt.Sprintf("%s answered %s", fr.MessageID, c.GetElementDescription().Label)}
			}
		}
	}
	local := l.mustLocal(vs.vmx)
	vs.mu.RLock()
	x, err := readVMX(local)
	host, vmx := vs.host, vs.vmx
	vs.mu.RUnlock()
	if err != nil {
		return &types.FileNotFound{FileFault: types.FileFault{File: vs.vmx.String()}}
	}
	want := l.locationUUID(host, vmx)
	have := x.Get("uuid.location")
	action := strings.ToLower(x.Get("uuid.action"))
	choice := ""
	switch {
	case have == want:
		return nil
	case have == "" || action == "keep":
		choice = choiceMoved // nothing to ask: record where the VM is now
	case action == "create":
		choice = choiceCopied
	default:
		ans, f := l.ask(ctx, vm, vs, task, uuidQuestion(x.Get("quickmig.uuidQuestion") == "cancelOnly", fmt.Sprintf("%s-%d", vs.ref.Value, seq)))
		if f != nil {
			return f
		}
		choice = ans
	}
	if choice == choiceCancel {
		return &types.GenericVmConfigFault{Reason: uuidMsgID + " answered Cancel: the virtual machine was not powered on"}
	}
	vs.mu.Lock()
	err = l.rewriteVMX(vs, func(x *VMX) {
		x.Set("uuid.location", want)
		if choice != choiceCopied {
			return
		}
		old := x.Get("uuid.bios")
		bios := uuidBytes(mix(hashString(old), hashString(want), 0xb105), mix(hashString(want), 0xb106), " ")
		x.Set("uuid.bios", bios)
		for i := 0; i < 10; i++ {
			pre := fmt.Sprintf("ethernet%d.", i)
			if strings.EqualFold(x.Get(pre+"present"), "TRUE") && strings.EqualFold(x.Get(pre+"addressType"), "generated") {
				x.Set(pre+"generatedAddress", nicMAC(bios, i))
			}
		}
	})
	vs.mu.Unlock()
	if err != nil {
		return &types.CannotAccessFile{FileFault: types.FileFault{File: vs.vmx.String()}}
	}
	l.syncIdentity(ctx, vm, vs)
	return nil
}

// syncIdentity copies uuid.bios and the generated MACs of the .vmx into config.uuid and the NICs.
func (l *Launcher) syncIdentity(ctx *simulator.Context, vm *simulator.VirtualMachine, vs *vmState) {
	x, err := readVMX(l.mustLocal(vs.vmx))
	if err != nil {
		return
	}
	uuid := biosToConfigUUID(x.Get("uuid.bios"))
	ctx.AutoUpdate(vm, func() {
		if uuid != "" {
			vm.Config.Uuid = uuid
			vm.Summary.Config.Uuid = uuid
		}
		devices := make([]types.BaseVirtualDevice, len(vm.Config.Hardware.Device))
		copy(devices, vm.Config.Hardware.Device)
		n := 0
		for i, d := range devices {
			nic, ok := d.(types.BaseVirtualEthernetCard)
			if !ok {
				continue
			}
			if mac := x.Get(fmt.Sprintf("ethernet%d.generatedAddress", n)); mac != "" {
				card := *nic.GetVirtualEthernetCard()
				card.MacAddress = mac
				devices[i] = replaceCard(d, card)
			}
			n++
		}
		vm.Config.Hardware.Device = devices
	})
}

// replaceCard returns a copy of a NIC device with its common part replaced.
func replaceCard(d types.BaseVirtualDevice, card types.VirtualEthernetCard) types.BaseVirtualDevice {
	switch x := d.(type) {
	case *types.VirtualVmxnet3:
		c := *x
		c.VirtualEthernetCard = card
		return &c
	case *types.VirtualE1000:
		c := *x
		c.VirtualEthernetCard = card
		return &c
	case *types.VirtualE1000e:
		c := *x
		c.VirtualEthernetCard = card
		return &c
	}
	return d
}

// AnswerVM answers the question a power task waits on (faults as the vSphere API documents them).
func (v *labVM) AnswerVM(ctx *simulator.Context, req *types.AnswerVM) soap.HasFault {
	vs := v.l.vmByRef(v.Self.Value)
	if vs == nil {
		return &methods.AnswerVMBody{Fault_: simulator.Fault("", &types.ManagedObjectNotFound{Obj: v.Self})}
	}
	vs.mu.Lock()
	defer vs.mu.Unlock()
	q := vs.question
	if q == nil || q.info.Id != req.QuestionId {
		return &methods.AnswerVMBody{Fault_: simulator.Fault("no pending question with id "+req.QuestionId, &types.InvalidArgument{InvalidProperty: "questionId"})}
	}
	ok := false
	for _, c := range q.info.Choice.ChoiceInfo {
		ok = ok || c.GetElementDescription().Key == req.AnswerChoice
	}
	if !ok {
		return &methods.AnswerVMBody{Fault_: simulator.Fault("not a choice of question "+req.QuestionId, &types.InvalidArgument{InvalidProperty: "answerChoice"})}
	}
	vs.question = nil
	q.answer <- req.AnswerChoice
	return &methods.AnswerVMBody{Res: &types.AnswerVMResponse{}}
}
