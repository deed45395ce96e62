package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// addPortGroups gives a host the spec's standard port groups besides "VM Network": each one on the
// host's vSwitch0 (HostNetworkSystem.AddPortGroup, as `govc host.portgroup.add` does), one Network
// object per name in the datacenter (vCenter shows hosts' port groups of one name as one network),
// linked both ways as a host reports it: HostSystem.network lists it, Network.host lists the host.
func (l *Launcher) addPortGroups(ctx context.Context, h *object.HostSystem, names []string) error {
	if len(names) == 0 {
		return nil
	}
	ns, err := h.ConfigManager().NetworkSystem(ctx)
	if err != nil {
		return err
	}
	hns, ok := l.reg.Get(ns.Reference()).(*simulator.HostNetworkSystem)
	if !ok {
		return fmt.Errorf("host %s has no network system", h.Name())
	}
	host, ok := l.reg.Get(h.Reference()).(*simulator.HostSystem)
	if !ok {
		return fmt.Errorf("host %s not found", h.Name())
	}
	for _, name := range names {
		spec := types.HostPortGroupSpec{Name: name, VswitchName: "vSwitch0", Policy: types.HostNetworkPolicy{}}
		net := l.networkByName(name)
		if net == nil {
			if err := ns.AddPortGroup(ctx, spec); err != nil {
				return fmt.Errorf("add port group %s on %s: %w", name, h.Name(), err)
			}
			if net = l.networkByName(name); net == nil {
				return fmt.Errorf("port group %s on %s: no network object", name, h.Name())
			}
		} else {
			// The network exists (another host's port group of that name): this host's own port group.
			for i := range hns.NetworkInfo.Vswitch {
				if hns.NetworkInfo.Vswitch[i].Name == spec.VswitchName {
					hns.NetworkInfo.Vswitch[i].Portgroup = append(hns.NetworkInfo.Vswitch[i].Portgroup, name)
				}
			}
			hns.NetworkInfo.Portgroup = append(hns.NetworkInfo.Portgroup, types.HostPortGroup{Key: "key-vim.host.PortGroup-" + name, Spec: spec})
		}
		host.Network = append(host.Network, net.Self)
	}
	return nil
}

// linkNetworks sets each network's host and vm lists (Network.host, Network.vm) from the hosts' and the
// VMs' own (HostSystem.network, VirtualMachine.network), as vSphere reports the links both ways. ctx
// nil: at start-up, before the lab serves, the fields are set directly.
func (l *Launcher) linkNetworks(ctx *simulator.Context) {
	hostsOf := map[string][]types.ManagedObjectReference{}
	vmsOf := map[string][]types.ManagedObjectReference{}
	for _, o := range l.reg.All("HostSystem") {
		if h, ok := o.(*simulator.HostSystem); ok {
			for _, n := range h.Network {
				hostsOf[n.Value] = append(hostsOf[n.Value], h.Self)
			}
		}
	}
	for _, o := range l.reg.All("VirtualMachine") {
		if vm, ok := o.(*simulator.VirtualMachine); ok {
			for _, n := range vm.Network {
				vmsOf[n.Value] = append(vmsOf[n.Value], vm.Self)
			}
		}
	}
	for _, kind := range []string{"Network", "DistributedVirtualPortgroup"} {
		for _, o := range l.reg.All(kind) {
			var n *mo.Network
			switch x := o.(type) {
			case *mo.Network:
				n = x
			case *simulator.DistributedVirtualPortgroup:
				n = &x.Network
			default:
				continue
			}
			hosts, vms := hostsOf[n.Self.Value], vmsOf[n.Self.Value]
			byValue := func(a, b types.ManagedObjectReference) int { return strings.Compare(a.Value, b.Value) }
			slices.SortFunc(hosts, byValue)
			slices.SortFunc(vms, byValue)
			if ctx == nil {
				n.Host, n.Vm = hosts, vms
				continue
			}
			ctx.Update(o, []types.PropertyChange{{Name: "host", Val: hosts}, {Name: "vm", Val: vms}})
		}
	}
}

// addDistributedSwitch creates a vCenter distributed switch (CreateDVS_Task), adds its hosts as members
// (ReconfigureDvs_Task) and then its port groups (AddDVPortgroup_Task, early binding), so that each port
// group is in HostSystem.network of every member, as vCenter reports it.
func (l *Launcher) addDistributedSwitch(ctx context.Context, folder *object.Folder, hosts map[string]*object.HostSystem, d DVSSpec) error {
	task, err := folder.CreateDVS(ctx, types.DVSCreateSpec{ConfigSpec: &types.VMwareDVSConfigSpec{DVSConfigSpec: types.DVSConfigSpec{Name: d.Name}}})
	if err != nil {
		return err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return fmt.Errorf("create distributed switch %s: %w", d.Name, err)
	}
	dvs := object.NewDistributedVirtualSwitch(l.client, info.Result.(types.ManagedObjectReference))
	var members []types.DistributedVirtualSwitchHostMemberConfigSpec
	for _, h := range d.Hosts {
		members = append(members, types.DistributedVirtualSwitchHostMemberConfigSpec{Operation: string(types.ConfigSpecOperationAdd), Host: hosts[h].Reference()})
	}
	var config mo.DistributedVirtualSwitch
	if err := dvs.Properties(ctx, dvs.Reference(), []string{"config"}, &config); err != nil {
		return err
	}
	task, err = dvs.Reconfigure(ctx, &types.DVSConfigSpec{ConfigVersion: config.Config.GetDVSConfigInfo().ConfigVersion, Host: members})
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("add hosts to distributed switch %s: %w", d.Name, err)
	}
	var specs []types.DVPortgroupConfigSpec
	for _, pg := range d.PortGroups {
		specs = append(specs, types.DVPortgroupConfigSpec{Name: pg, Type: string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding), NumPorts: 8})
	}
	if len(specs) == 0 {
		return nil
	}
	task, err = dvs.AddPortgroup(ctx, specs)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("add port groups to distributed switch %s: %w", d.Name, err)
	}
	return nil
}

// networkByName is the datacenter's network (standard port group) of that name; nil when none.
func (l *Launcher) networkByName(name string) *mo.Network {
	dc, ok := l.reg.Get(l.dcRef).(*simulator.Datacenter)
	if !ok {
		return nil
	}
	for _, ref := range dc.Network {
		if n, ok := l.reg.Get(ref).(*mo.Network); ok && n.Name == name {
			return n
		}
	}
	return nil
}

// hostNetwork is the network named `name` among those of the VM's host (HostSystem.network): a
// standard port group backs an adapter by name, and only the host's own port groups can carry it.
func hostNetwork(ctx *simulator.Context, vm *simulator.VirtualMachine, name string) (types.ManagedObjectReference, bool) {
	for _, ref := range hostNetworks(ctx, vm) {
		if n, ok := ctx.Map.Get(ref).(*mo.Network); ok && n.Name == name {
			return ref, true
		}
	}
	return types.ManagedObjectReference{}, false
}

// hostNetworks are the networks of the VM's host (HostSystem.network); none when it has no host.
func hostNetworks(ctx *simulator.Context, vm *simulator.VirtualMachine) []types.ManagedObjectReference {
	if vm.Runtime.Host == nil {
		return nil
	}
	if host, ok := ctx.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem); ok {
		return host.Network
	}
	return nil
}

// nicNetwork is the network an adapter's device change puts it on: a standard port group by name (the
// backing's deviceName) or a distributed one by key (port.portgroupKey); ok false for another change.
func nicNetwork(change types.BaseVirtualDeviceConfigSpec) (std *types.VirtualEthernetCardNetworkBackingInfo, dvpg *types.ManagedObjectReference, ok bool) {
	spec := change.GetVirtualDeviceConfigSpec()
	if _, isNIC := spec.Device.(types.BaseVirtualEthernetCard); !isNIC {
		return nil, nil, false
	}
	switch b := spec.Device.GetVirtualDevice().Backing.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return b, nil, true
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		return nil, &types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}, true
	}
	return nil, nil, false
}

// checkNicBackings refuses a ReconfigVM_Task that puts an adapter on a port group the VM's host does
// not have: a standard one resolved by name among the host's networks (the stock simulator would
// dereference a missing one), a distributed one by key (the stock one takes any key; it checks only
// that the host is a member of the switch). A standard backing's network reference, which a host
// reports but a client need not send ("not used during configuration",
// VirtualEthernetCardNetworkBackingInfo.network), is filled in.
func checkNicBackings(ctx *simulator.Context, vm *simulator.VirtualMachine, req *types.ReconfigVM_Task) types.BaseMethodFault {
	for i, change := range req.Spec.DeviceChange {
		std, dvpg, ok := nicNetwork(change)
		if !ok {
			continue
		}
		invalid := &types.InvalidDeviceSpec{InvalidVmConfig: types.InvalidVmConfig{Property: "deviceChange"}, DeviceIndex: int32(i)}
		if dvpg != nil {
			if !slices.Contains(hostNetworks(ctx, vm), *dvpg) {
				return invalid
			}
			continue
		}
		ref, found := hostNetwork(ctx, vm, std.DeviceName)
		if !found {
			return invalid
		}
		std.Network = &ref
	}
	return nil
}

// syncVMNetworks sets VirtualMachine.network to the networks its adapters are on now (the stock
// reconfiguration appends the new one and keeps the one an edited adapter left), and the networks'
// vm lists with it.
func (l *Launcher) syncVMNetworks(ctx *simulator.Context, vm *simulator.VirtualMachine) {
	ctx.AutoUpdate(vm, func() {
		var nets []types.ManagedObjectReference
		seen := map[string]bool{}
		for _, d := range vm.Config.Hardware.Device {
			if _, ok := d.(types.BaseVirtualEthernetCard); !ok {
				continue
			}
			var net *types.ManagedObjectReference
			switch b := d.GetVirtualDevice().Backing.(type) {
			case *types.VirtualEthernetCardNetworkBackingInfo:
				net = b.Network
			case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
				net = &types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}
			}
			if net != nil && !seen[net.Value] {
				seen[net.Value] = true
				nets = append(nets, *net)
			}
		}
		vm.Network = nets
	})
	l.linkNetworks(ctx)
}
