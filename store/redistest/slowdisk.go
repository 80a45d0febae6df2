package redistest

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// SlowDisk is a directory whose fsync calls can be held back, as a disk saturated by other
// writers holds them: a FUSE loopback mount over a temporary directory. Writes reach the backing
// directory at once (they survive a kill -9 of the writer); only fsync waits. It needs /dev/fuse
// and root, which `make test` has.
type SlowDisk struct {
	Dir string // the mount point: pass it to redis-server as --dir

	mu      sync.Mutex
	gate    chan struct{} // closed while fsync may pass
	waiting atomic.Int32
}

// NewSlowDisk mounts a fresh SlowDisk for t (fsync passes until Stall) and unmounts it at cleanup.
func NewSlowDisk(t TB) *SlowDisk {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("redistest: a slow disk needs FUSE (/dev/fuse, root): %v", err)
	}
	backing, mnt := t.TempDir(), t.TempDir()
	d := &SlowDisk{Dir: mnt, gate: make(chan struct{})}
	close(d.gate)
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	root := &fs.LoopbackRoot{Path: backing, Dev: uint64(st.Dev)}
	node := &heldNode{LoopbackNode: &fs.LoopbackNode{RootData: root}, disk: d}
	root.RootNode = node
	srv, err := fs.Mount(mnt, node, &fs.Options{MountOptions: fuse.MountOptions{
		DirectMountStrict: true, FsName: "redistest-slowdisk", Name: "slowdisk",
	}})
	if err != nil {
		t.Fatalf("redistest: mount a slow disk: %v", err)
	}
	t.Cleanup(func() {
		d.Release()
		if err := srv.Unmount(); err != nil {
			_ = exec.Command("umount", "-l", mnt).Run() // a process still holds a file: detach it
		}
	})
	return d
}

// Stall holds every fsync from now on until Release.
func (d *SlowDisk) Stall() {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.gate:
		d.gate = make(chan struct{})
	default:
	}
}

// Release lets held and future fsync calls through.
func (d *SlowDisk) Release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.gate:
	default:
		close(d.gate)
	}
}

// Held is the number of fsync calls waiting right now.
func (d *SlowDisk) Held() int { return int(d.waiting.Load()) }

func (d *SlowDisk) wait(ctx context.Context) syscall.Errno {
	d.mu.Lock()
	gate := d.gate
	d.mu.Unlock()
	select {
	case <-gate:
		return 0
	default:
	}
	d.waiting.Add(1)
	defer d.waiting.Add(-1)
	select {
	case <-gate:
		return 0
	case <-ctx.Done(): // the caller was killed: FUSE interrupts its request
		return syscall.EINTR
	}
}

// heldNode is a loopback node whose fsync waits at the disk's gate.
type heldNode struct {
	*fs.LoopbackNode
	disk *SlowDisk
}

var (
	_ fs.NodeFsyncer     = (*heldNode)(nil)
	_ fs.NodeWrapChilder = (*heldNode)(nil)
)

func (n *heldNode) WrapChild(_ context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &heldNode{LoopbackNode: ops.(*fs.LoopbackNode), disk: n.disk}
}

func (n *heldNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if errno := n.disk.wait(ctx); errno != 0 {
		return errno
	}
	if fsy, ok := f.(fs.FileFsyncer); ok {
		return fsy.Fsync(ctx, flags)
	}
	return 0
}
