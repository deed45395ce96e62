package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Delta extent format (the simulator's stand-in for VMFSSPARSE), little endian:
//
//	header (512 bytes): magic "QMVSPRS1" | u32 version=1 | u32 grain=4096 | u64 capacity bytes | zero pad
//	records, appended:  u64 offset | u32 length | u32 reserved(0) | length bytes of data
//
// The file grows with the data written, never with the capacity; when records overlap
// the later one wins. Reading a chain = base flat extent, then every delta's records
// applied oldest delta first, each delta in file order.
const (
	deltaMagic      = "QMVSPRS1"
	deltaHeaderSize = 512
	deltaRecHeader  = 16
)

func createDelta(file string, capacity int64) error {
	hdr := make([]byte, deltaHeaderSize)
	copy(hdr, deltaMagic)
	binary.LittleEndian.PutUint32(hdr[8:], 1)
	binary.LittleEndian.PutUint32(hdr[12:], blockSize)
	binary.LittleEndian.PutUint64(hdr[16:], uint64(capacity))
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(hdr); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func isDeltaFile(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 8)
	_, err = io.ReadFull(f, b)
	return err == nil && string(b) == deltaMagic
}

// appendDelta appends one record (offset, data) to an open delta file.
func appendDelta(f *os.File, off int64, data []byte) error {
	buf := make([]byte, deltaRecHeader+len(data))
	binary.LittleEndian.PutUint64(buf, uint64(off))
	binary.LittleEndian.PutUint32(buf[8:], uint32(len(data)))
	copy(buf[deltaRecHeader:], data)
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(buf, end)
	return err
}

type deltaRec struct {
	Off, Len, DataOff int64
}

// readDeltaRecords lists the records of a delta extent in file order.
func readDeltaRecords(file string) ([]deltaRec, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	hdr := make([]byte, deltaHeaderSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%s: short delta header: %w", file, err)
	}
	if string(hdr[:8]) != deltaMagic {
		return nil, fmt.Errorf("%s: not a delta extent", file)
	}
	var recs []deltaRec
	pos := int64(deltaHeaderSize)
	rh := make([]byte, deltaRecHeader)
	for {
		if _, err := io.ReadFull(r, rh); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return recs, nil // a torn trailing record is ignored
			}
			return nil, err
		}
		rec := deltaRec{Off: int64(binary.LittleEndian.Uint64(rh)), Len: int64(binary.LittleEndian.Uint32(rh[8:])), DataOff: pos + deltaRecHeader}
		if _, err := r.Discard(int(rec.Len)); err != nil {
			return recs, nil
		}
		recs = append(recs, rec)
		pos = rec.DataOff + rec.Len
	}
}

// mergeDelta applies child's records to parent: written in place into a flat extent,
// appended to a delta extent.
func mergeDelta(parent, child string) error {
	recs, err := readDeltaRecords(child)
	if err != nil {
		return err
	}
	src, err := os.Open(child)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(parent, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer dst.Close()
	parentDelta := isDeltaFile(parent)
	for _, rec := range recs {
		data := make([]byte, rec.Len)
		if _, err := src.ReadAt(data, rec.DataOff); err != nil {
			return err
		}
		if parentDelta {
			err = appendDelta(dst, rec.Off, data)
		} else {
			_, err = dst.WriteAt(data, rec.Off)
		}
		if err != nil {
			return err
		}
	}
	return dst.Sync()
}

// ChainReader reads the logical content of a disk chain (extent files, base first).
type ChainReader struct {
	base   *os.File
	deltas []*os.File
	recs   [][]deltaRec
	Size   int64
}

// OpenChain opens extents (base flat extent first, newest delta last); size is the capacity.
func OpenChain(extents []string, size int64) (*ChainReader, error) {
	c := &ChainReader{Size: size}
	for i, e := range extents {
		f, err := os.Open(e)
		if err != nil {
			c.Close()
			return nil, err
		}
		if i == 0 {
			c.base = f
			continue
		}
		recs, err := readDeltaRecords(e)
		if err != nil {
			f.Close()
			c.Close()
			return nil, err
		}
		c.deltas = append(c.deltas, f)
		c.recs = append(c.recs, recs)
	}
	return c, nil
}

func (c *ChainReader) Close() {
	if c.base != nil {
		c.base.Close()
	}
	for _, f := range c.deltas {
		f.Close()
	}
}

// ReadAt implements io.ReaderAt over the logical disk.
func (c *ChainReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= c.Size {
		return 0, io.EOF
	}
	want := len(p)
	n := want
	if off+int64(n) > c.Size {
		n = int(c.Size - off)
	}
	p = p[:n]
	clear(p)
	if _, err := c.base.ReadAt(p, off); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	for i, recs := range c.recs {
		for _, r := range recs {
			lo, hi := max(off, r.Off), min(off+int64(n), r.Off+r.Len)
			if lo >= hi {
				continue
			}
			if _, err := c.deltas[i].ReadAt(p[lo-off:hi-off], r.DataOff+(lo-r.Off)); err != nil {
				return 0, err
			}
		}
	}
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// ReadAll returns the whole logical content (for tests and small disks).
func (c *ChainReader) ReadAll() ([]byte, error) {
	b := make([]byte, c.Size)
	_, err := c.ReadAt(b, 0)
	return b, err
}
