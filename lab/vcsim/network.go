package main

import (
	"context"
	"fmt"

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
		net.Host = append(net.Host, host.Self)
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
	if vm.Runtime.Host == nil {
		return types.ManagedObjectReference{}, false
	}
	host, ok := ctx.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem)
	if !ok {
		return types.ManagedObjectReference{}, false
	}
	for _, ref := range host.Network {
		if n, ok := ctx.Map.Get(ref).(*mo.Network); ok && n.Name == name {
			return ref, true
		}
	}
	return types.ManagedObjectReference{}, false
}

// nicBacking is the standard port group backing of a device change, when it is a network adapter's.
func nicBacking(change types.BaseVirtualDeviceConfigSpec) (*types.VirtualEthernetCardNetworkBackingInfo, bool) {
	spec := change.GetVirtualDeviceConfigSpec()
	if _, ok := spec.Device.(types.BaseVirtualEthernetCard); !ok {
		return nil, false
	}
	b, ok := spec.Device.GetVirtualDevice().Backing.(*types.VirtualEthernetCardNetworkBackingInfo)
	return b, ok
}

// checkNicBackings refuses a ReconfigVM_Task that puts an adapter on a port group the VM's host does
// not have (the stock simulator would dereference a missing network), and fills in each backing's
// network reference, which a host reports but a client need not send ("not used during
// configuration", VirtualEthernetCardNetworkBackingInfo.network).
func checkNicBackings(ctx *simulator.Context, vm *simulator.VirtualMachine, req *types.ReconfigVM_Task) types.BaseMethodFault {
	for i, change := range req.Spec.DeviceChange {
		b, ok := nicBacking(change)
		if !ok {
			continue
		}
		ref, found := hostNetwork(ctx, vm, b.DeviceName)
		if !found {
			return &types.InvalidDeviceSpec{InvalidVmConfig: types.InvalidVmConfig{Property: "deviceChange"}, DeviceIndex: int32(i)}
		}
		b.Network = &ref
	}
	return nil
}

// syncVMNetworks sets VirtualMachine.network to the networks its adapters are on now (the stock
// reconfiguration appends the new one and keeps the one an edited adapter left).
func syncVMNetworks(ctx *simulator.Context, vm *simulator.VirtualMachine) {
	ctx.AutoUpdate(vm, func() {
		var nets []types.ManagedObjectReference
		seen := map[string]bool{}
		for _, d := range vm.Config.Hardware.Device {
			if _, ok := d.(types.BaseVirtualEthernetCard); !ok {
				continue
			}
			if b, ok := d.GetVirtualDevice().Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok && b.Network != nil && !seen[b.Network.Value] {
				seen[b.Network.Value] = true
				nets = append(nets, *b.Network)
			}
		}
		vm.Network = nets
	})
}
