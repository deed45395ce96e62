package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// nicConnected returns the network adapter's startConnected and connected as the VM reports them.
func nicConnected(t *testing.T, lb *lab, vm *object.VirtualMachine) (start, now bool) {
	t.Helper()
	var m mo.VirtualMachine
	lb.props(vm.Reference(), &m, "config.hardware.device")
	for _, d := range m.Config.Hardware.Device {
		if nic, ok := d.(types.BaseVirtualEthernetCard); ok {
			c := nic.GetVirtualEthernetCard().Connectable
			if c == nil {
				t.Fatal("network adapter without connect info")
			}
			return c.StartConnected, c.Connected
		}
	}
	t.Fatal("no network adapter")
	return false, false
}

// A .vmx with ethernet0.startConnected = "FALSE" registers with an adapter that stays disconnected when
// the VM powers on (VirtualDeviceConnectInfo.startConnected); without the key it connects.
func TestNICStartConnectedFromVMX(t *testing.T) {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Datastore = "datastore1"
	spec.VMs[0].Disks = []DiskSpec{{SizeMiB: 2}}
	spec.VMs[0].Power = "poweredOff"
	lb := startLab(t, spec)
	ctx := context.Background()

	vm := lb.vm("ir-app01")
	lb.must(vm.PowerOn(ctx))
	if start, now := nicConnected(t, lb, vm); !start || !now {
		t.Fatalf("default adapter: startConnected %v connected %v, want both true", start, now)
	}
	lb.must(vm.PowerOff(ctx))

	vmx := lb.local("datastore1", "ir-app01/ir-app01.vmx")
	b, err := os.ReadFile(vmx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(b)), "ethernet0.startconnected") {
		t.Fatal("the generated .vmx already sets ethernet0.startConnected")
	}
	if err := os.WriteFile(vmx, append(b, []byte("ethernet0.startConnected = \"FALSE\"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := vm.Unregister(ctx); err != nil {
		t.Fatal(err)
	}
	folders, _ := lb.dc().Folders(ctx)
	res := lb.must(folders.VmFolder.RegisterVM(ctx, "[datastore1] ir-app01/ir-app01.vmx", "ir-app01", false, lb.pool(), nil))
	vm = object.NewVirtualMachine(lb.c.Client, res.(types.ManagedObjectReference))
	lb.must(vm.PowerOn(ctx))
	if start, now := nicConnected(t, lb, vm); start || now {
		t.Fatalf("adapter with startConnected FALSE: startConnected %v connected %v, want both false", start, now)
	}
}
