package main

import (
	"context"
	"errors"
	"os"
	"slices"
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

// offOnDatastore1 is the ESXi base spec with ir-app01 powered off, its home and one 2 MiB disk on
// datastore1 (whose files a test edits), and `nics` adapters.
func offOnDatastore1(t *testing.T, nics int) *Spec {
	spec := baseSpec(t.TempDir(), "esx")
	spec.VMs[0].Datastore = "datastore1"
	spec.VMs[0].Disks = []DiskSpec{{SizeMiB: 2}}
	spec.VMs[0].Power = "poweredOff"
	spec.VMs[0].Nics = &nics
	return spec
}

// reregisterWith appends a line to ir-app01's .vmx on datastore1 and registers the VM again from it.
func reregisterWith(t *testing.T, lb *lab, vm *object.VirtualMachine, line string) *object.VirtualMachine {
	t.Helper()
	ctx := context.Background()
	vmx := lb.local("datastore1", "ir-app01/ir-app01.vmx")
	b, err := os.ReadFile(vmx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vmx, append(b, []byte(line+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := vm.Unregister(ctx); err != nil {
		t.Fatal(err)
	}
	folders, _ := lb.dc().Folders(ctx)
	res := lb.must(folders.VmFolder.RegisterVM(ctx, "[datastore1] ir-app01/ir-app01.vmx", "ir-app01", false, lb.pool(), nil))
	return object.NewVirtualMachine(lb.c.Client, res.(types.ManagedObjectReference))
}

// A .vmx with ethernet0.startConnected = "FALSE" registers with an adapter that stays disconnected when
// the VM powers on (VirtualDeviceConnectInfo.startConnected); without the key it connects.
func TestNICStartConnectedFromVMX(t *testing.T) {
	lb := startLab(t, offOnDatastore1(t, 1))
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
	vm = reregisterWith(t, lb, vm, `ethernet0.startConnected = "FALSE"`)
	lb.must(vm.PowerOn(ctx))
	if start, now := nicConnected(t, lb, vm); start || now {
		t.Fatalf("adapter with startConnected FALSE: startConnected %v connected %v, want both false", start, now)
	}
}

// moveNIC edits the VM's first adapter onto the standard port group `network`, to connect at power-on.
func moveNIC(ctx context.Context, lb *lab, vm *object.VirtualMachine, network string) error {
	var m mo.VirtualMachine
	lb.props(vm.Reference(), &m, "config.hardware.device")
	for _, d := range m.Config.Hardware.Device {
		if nic, ok := d.(types.BaseVirtualEthernetCard); ok {
			card := nic.GetVirtualEthernetCard()
			card.Backing = &types.VirtualEthernetCardNetworkBackingInfo{VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: network}}
			card.Connectable = &types.VirtualDeviceConnectInfo{StartConnected: true, AllowGuestControl: true}
			_, err := lb.wait(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
				&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: d},
			}}))
			return err
		}
	}
	return nil
}

// A host's port groups of the spec: in HostSystem.network and Network.host, one Network per name on a
// vCenter; an adapter moved onto one reports it as its backing and the VM's network, and connects at
// power-on; a port group the VM's host lacks is refused (InvalidDeviceSpec) and changes nothing.
func TestPortGroupsAndAdapterMove(t *testing.T) {
	for _, kind := range []string{"esx", "vcenter"} {
		t.Run(kind, func(t *testing.T) {
			spec := baseSpec(t.TempDir(), kind)
			spec.Hosts[0].PortGroups = []string{"test-isolated"}
			if kind == "vcenter" {
				spec.Hosts[1].PortGroups = []string{"test-isolated", "only-esx02"}
			}
			spec.VMs[0].Power = "poweredOff"
			lb := startLab(t, spec)
			ctx := context.Background()
			vm := lb.vm("ir-app01")

			var host mo.HostSystem
			lb.props(lb.moVM(vm).Runtime.Host.Reference(), &host, "network")
			names := map[string]types.ManagedObjectReference{}
			for _, ref := range host.Network {
				var n mo.Network
				lb.props(ref, &n, "name", "host")
				names[n.Name] = ref
				if n.Name == "test-isolated" && len(n.Host) != len(spec.Hosts) {
					t.Fatalf("test-isolated lists hosts %v; want the %d hosts that have it", n.Host, len(spec.Hosts))
				}
			}
			if _, ok := names["test-isolated"]; !ok {
				t.Fatalf("host networks %v lack test-isolated", names)
			}
			if _, ok := names["only-esx02"]; ok {
				t.Fatal("esx01 lists esx02's own port group")
			}

			var f types.HasFault
			if err := moveNIC(ctx, lb, vm, "no-such-pg"); !errors.As(err, &f) {
				t.Fatalf("moving onto a missing port group: %v; want a fault", err)
			} else if _, ok := f.Fault().(*types.InvalidDeviceSpec); !ok {
				t.Fatalf("moving onto a missing port group: %T; want InvalidDeviceSpec", f.Fault())
			}
			if kind == "vcenter" {
				if err := moveNIC(ctx, lb, vm, "only-esx02"); err == nil {
					t.Fatal("moving onto another host's port group succeeded")
				}
			}
			if err := moveNIC(ctx, lb, vm, "test-isolated"); err != nil {
				t.Fatal(err)
			}
			var m mo.VirtualMachine
			lb.props(vm.Reference(), &m, "network")
			if len(m.Network) != 1 || m.Network[0] != names["test-isolated"] {
				t.Fatalf("VM networks %v; want only test-isolated %v", m.Network, names["test-isolated"])
			}
			// Network.vm and Network.host follow, as vSphere reports the links both ways.
			var isolated, vmNetwork mo.Network
			lb.props(names["test-isolated"], &isolated, "vm", "host")
			lb.props(names["VM Network"], &vmNetwork, "vm", "host")
			if len(isolated.Vm) != 1 || isolated.Vm[0] != vm.Reference() || slices.Contains(vmNetwork.Vm, vm.Reference()) {
				t.Fatalf("Network.vm: test-isolated %v, VM Network %v; want the VM on test-isolated only", isolated.Vm, vmNetwork.Vm)
			}
			if len(vmNetwork.Host) != len(spec.Hosts) {
				t.Fatalf("VM Network lists hosts %v; want the %d hosts", vmNetwork.Host, len(spec.Hosts))
			}
			lb.must(vm.PowerOn(ctx))
			if start, now := nicConnected(t, lb, vm); !start || !now {
				t.Fatalf("moved adapter: startConnected %v connected %v, want both true", start, now)
			}
			for _, d := range lb.moVM(vm).Config.Hardware.Device {
				if nic, ok := d.(types.BaseVirtualEthernetCard); ok {
					b, _ := nic.GetVirtualEthernetCard().Backing.(*types.VirtualEthernetCardNetworkBackingInfo)
					if b == nil || b.DeviceName != "test-isolated" {
						t.Fatalf("adapter backing %+v; want test-isolated", nic.GetVirtualEthernetCard().Backing)
					}
				}
			}
		})
	}
}

// Moving an adapter needs VirtualMachine.Config.EditDevice on the VM and Network.Assign on the network.
func TestMovingAnAdapterNeedsEditDeviceAndAssign(t *testing.T) {
	for _, c := range []struct{ held, missing string }{
		{"VirtualMachine.Config.EditDevice", "Network.Assign"},
		{"Network.Assign", "VirtualMachine.Config.EditDevice"},
	} {
		s := privSpec(t, "/", true, c.held)
		s.Hosts[0].PortGroups = []string{"test-isolated"}
		s.VMs[0].Power = "poweredOff"
		lb, uc, _ := userLab(t, s)
		vm := object.NewVirtualMachine(uc.Client, lb.vm("ir-app01").Reference())
		userLabView := &lab{t: t, c: uc, l: lb.l}
		np := noPermission(t, moveNIC(context.Background(), userLabView, vm, "test-isolated"))
		if np.PrivilegeId != c.missing {
			t.Fatalf("holding only %s: NoPermission names %s; want %s", c.held, np.PrivilegeId, c.missing)
		}
	}
}

// A vCenter's distributed switch of the spec: its port groups are in HostSystem.network of its member
// hosts; an adapter moved onto one (DistributedVirtualPortBackingInfo) is on it and connects at power-on;
// an unknown port group key is refused; moving needs Network.Assign on that port group.
func TestDistributedPortGroupAdapterMove(t *testing.T) {
	spec := baseSpec(t.TempDir(), "vcenter")
	spec.DistributedSwitches = []DVSSpec{{Name: "dvs-lab", Hosts: []string{"esx01.lab", "esx02.lab"}, PortGroups: []string{"dvpg-test"}}}
	spec.VMs[0].Power = "poweredOff"
	spec.Users = []UserSpec{{Name: "quickmig", Password: "least-priv", Permissions: []PermissionSpec{{Entity: "/", Privileges: []string{"VirtualMachine.Config.EditDevice"}, Propagate: true}}}}
	lb := startLab(t, spec)
	ctx := context.Background()
	vm := lb.vm("ir-app01")

	var host mo.HostSystem
	lb.props(lb.moVM(vm).Runtime.Host.Reference(), &host, "network")
	var pg *mo.DistributedVirtualPortgroup
	for _, ref := range host.Network {
		if ref.Type != "DistributedVirtualPortgroup" {
			continue
		}
		var p mo.DistributedVirtualPortgroup
		lb.props(ref, &p, "name", "key", "config.distributedVirtualSwitch")
		if p.Name == "dvpg-test" {
			pg = &p
		}
	}
	if pg == nil {
		t.Fatalf("host networks %v lack dvpg-test", host.Network)
	}
	var dvs mo.DistributedVirtualSwitch
	lb.props(*pg.Config.DistributedVirtualSwitch, &dvs, "uuid")

	move := func(c *lab, key string) error {
		var m mo.VirtualMachine
		c.props(vm.Reference(), &m, "config.hardware.device")
		for _, d := range m.Config.Hardware.Device {
			if nic, ok := d.(types.BaseVirtualEthernetCard); ok {
				card := nic.GetVirtualEthernetCard()
				card.Backing = &types.VirtualEthernetCardDistributedVirtualPortBackingInfo{Port: types.DistributedVirtualSwitchPortConnection{SwitchUuid: dvs.Uuid, PortgroupKey: key}}
				card.Connectable = &types.VirtualDeviceConnectInfo{StartConnected: true, AllowGuestControl: true}
				_, err := c.wait(object.NewVirtualMachine(c.c.Client, vm.Reference()).Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
					&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: d},
				}}))
				return err
			}
		}
		return nil
	}
	user := &lab{t: t, c: lb.login("quickmig", "least-priv"), l: lb.l}
	if np := noPermission(t, move(user, pg.Key)); np.PrivilegeId != "Network.Assign" || np.Object == nil || np.Object.Value != pg.Key {
		t.Fatalf("without Network.Assign: NoPermission names %s on %v; want Network.Assign on %s", np.PrivilegeId, np.Object, pg.Key)
	}
	var f types.HasFault
	if err := move(lb, "dvportgroup-nosuch"); !errors.As(err, &f) {
		t.Fatalf("moving onto an unknown port group key: %v; want a fault", err)
	}
	if err := move(lb, pg.Key); err != nil {
		t.Fatal(err)
	}
	var m mo.VirtualMachine
	lb.props(vm.Reference(), &m, "network")
	if len(m.Network) != 1 || m.Network[0].Value != pg.Key {
		t.Fatalf("VM networks %v; want only %s", m.Network, pg.Key)
	}
	lb.must(vm.PowerOn(ctx))
	if start, now := nicConnected(t, lb, vm); !start || !now {
		t.Fatalf("moved adapter: startConnected %v connected %v, want both true", start, now)
	}
}

// A VM with two adapters (spec nics 2): two vmxnet3 adapters on VM Network with distinct generated MACs,
// in .vmx order; ethernet1.startConnected FALSE leaves only the second disconnected at power-on.
func TestTwoAdaptersFromVMX(t *testing.T) {
	lb := startLab(t, offOnDatastore1(t, 2))
	ctx := context.Background()
	vm := lb.vm("ir-app01")
	adapters := func() (macs []string, connected []bool) {
		for _, d := range lb.moVM(vm).Config.Hardware.Device {
			if nic, ok := d.(types.BaseVirtualEthernetCard); ok {
				c := nic.GetVirtualEthernetCard()
				if b, ok := c.Backing.(*types.VirtualEthernetCardNetworkBackingInfo); !ok || b.DeviceName != "VM Network" {
					t.Fatalf("adapter backing %+v; want VM Network", c.Backing)
				}
				macs = append(macs, c.MacAddress)
				connected = append(connected, c.Connectable.Connected)
			}
		}
		return macs, connected
	}
	macs, _ := adapters()
	if len(macs) != 2 || macs[0] == macs[1] || macs[0] == "" {
		t.Fatalf("MACs %v; want two distinct", macs)
	}
	vm = reregisterWith(t, lb, vm, `ethernet1.startConnected = "FALSE"`)
	lb.must(vm.PowerOn(ctx))
	again, connected := adapters()
	if !slices.Equal(again, macs) || !slices.Equal(connected, []bool{true, false}) {
		t.Fatalf("after registering again: MACs %v connected %v; want %v and [true false]", again, connected, macs)
	}
}
