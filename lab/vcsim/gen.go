package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func writeNVRAM(file string, seed uint64) error {
	b := make([]byte, 8684) // ESXi nvram files are ~8.5 KiB
	fillPRNG(b, mix(seed, 0x4e56))
	copy(b, "MRVN")
	return os.WriteFile(file, b, 0o644)
}

func logHeader(name string) string {
	return time.Now().UTC().Format(time.RFC3339Nano) + "| vmx| I005: Log for VMware ESX pid=1 version=8.0.3 build=build-24022510\n" +
		time.Now().UTC().Format(time.RFC3339Nano) + "| vmx| I005: DICT displayName = \"" + name + "\"\n"
}

// createSpecVMFiles writes the files of a spec VM (vmx, nvram, log, descriptors, flat extents).
func (l *Launcher) createSpecVMFiles(v VMSpec) (dsPath, error) {
	home := dsPath{v.Datastore, v.Name}
	vmx := home.Join(v.Name + ".vmx")
	homeDir := l.mustLocal(home)
	if err := os.MkdirAll(homeDir, 0o755); err != nil {
		return vmx, err
	}
	x := &VMX{}
	set := x.Set
	set(".encoding", "UTF-8")
	set("config.version", "8")
	set("virtualHW.version", "19")
	set("displayName", v.Name)
	set("memSize", strconv.FormatInt(v.MemoryMiB, 10))
	set("numvcpus", strconv.Itoa(int(v.CPUs)))
	set("guestOS", v.GuestOS)
	bios := uuidBytes(mix(v.Seed, 21), mix(v.Seed, 22), " ")
	set("uuid.bios", bios)
	set("uuid.location", l.locationUUID(v.Host, vmx))
	if l.spec.Kind == "vcenter" {
		set("vc.uuid", uuidBytes(mix(v.Seed, 25), mix(v.Seed, 26), " "))
	}
	set("nvram", v.Name+".nvram")
	set("pciBridge0.present", "TRUE")
	set("svga.present", "TRUE")
	set("tools.syncTime", "FALSE")
	set("scsi0.present", "TRUE")
	set("scsi0.virtualDev", "pvscsi")
	if v.ScsiBusSharing != "" && v.ScsiBusSharing != "none" {
		set("scsi0.sharedBus", v.ScsiBusSharing)
	}
	for i, d := range v.Disks {
		ds := d.Datastore
		if ds == "" {
			ds = v.Datastore
		}
		dir := dsPath{ds, v.Name}
		local := l.mustLocal(dir)
		if err := os.MkdirAll(local, 0o755); err != nil {
			return vmx, err
		}
		name := diskFileName(v.Name, i)
		size := d.SizeMiB << 20
		desc := flatDescriptor(extentName(name, false), size, v.Seed, i)
		if d.thin() {
			desc.setDDB("thinProvisioned", "1")
		}
		if err := writeFlatExtent(filepath.Join(local, extentName(name, false)), size, d.Fill, v.Seed, i); err != nil {
			return vmx, err
		}
		if err := os.WriteFile(filepath.Join(local, name), []byte(desc.String()), 0o644); err != nil {
			return vmx, err
		}
		unit := unitNumber(i)
		set(fmt.Sprintf("scsi0:%d.present", unit), "TRUE")
		set(fmt.Sprintf("scsi0:%d.deviceType", unit), "scsi-hardDisk")
		set(fmt.Sprintf("scsi0:%d.fileName", unit), vmxDiskRef(home, dir.Join(name)))
	}
	nics := 1
	if v.Nics != nil {
		nics = *v.Nics
	}
	for i := range nics {
		pre := fmt.Sprintf("ethernet%d.", i)
		set(pre+"present", "TRUE")
		set(pre+"virtualDev", "vmxnet3")
		set(pre+"networkName", "VM Network")
		set(pre+"addressType", "generated")
		set(pre+"generatedAddress", nicMAC(bios, i))
	}
	set("floppy0.present", "FALSE")
	set("quickmig.seed", strconv.FormatUint(v.Seed, 10))
	set("quickmig.guestWriteBytesPerSec", strconv.FormatInt(v.GuestWriteBytesPerSec, 10))
	if v.Tools == "none" {
		set("quickmig.tools", "none")
	}
	if v.IgnoreShutdown {
		set("quickmig.ignoreShutdown", "TRUE")
	}
	if v.UUIDQuestion == "cancelOnly" {
		set("quickmig.uuidQuestion", "cancelOnly")
	}
	if v.Template {
		set("quickmig.template", "TRUE")
	}
	if v.ISO != "" {
		if err := l.addISO(v.ISO, v.Seed, set); err != nil {
			return vmx, err
		}
	}
	if err := writeNVRAM(filepath.Join(homeDir, v.Name+".nvram"), v.Seed); err != nil {
		return vmx, err
	}
	if err := os.WriteFile(filepath.Join(homeDir, "vmware.log"), []byte(logHeader(v.Name)), 0o644); err != nil {
		return vmx, err
	}
	return vmx, writeFileAtomic(l.mustLocal(vmx), []byte(x.String()))
}
