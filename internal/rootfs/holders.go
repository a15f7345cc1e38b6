package rootfs

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// writers lists the open descriptors, in every process of the running
// system, that refer to the file dev:ino and were opened for writing, as
// fuser(1) finds them (/proc/PID/fd, and /proc/PID/fdinfo for the mode),
// leaving out this process's descriptors in skip. The scan is bounded: at
// most maxScan descriptors, for at most budget; past either it reports what
// it saw.
func writers(dev, ino uint64, skip []int, budget time.Duration) []string {
	const maxScan = 200000
	end := time.Now().Add(budget)
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []string
	scanned := 0
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := "/proc/" + p.Name() + "/fd"
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // gone, or not ours to look at
		}
		for _, f := range fds {
			if scanned++; scanned > maxScan || time.Now().After(end) {
				return out
			}
			n, err := strconv.Atoi(f.Name())
			if err != nil || pid == self && slices.Contains(skip, n) {
				continue
			}
			var st syscall.Stat_t
			if syscall.Stat(fdDir+"/"+f.Name(), &st) != nil || st.Ino != ino || uint64(st.Dev) != dev {
				continue
			}
			if writable("/proc/" + p.Name() + "/fdinfo/" + f.Name()) {
				out = append(out, p.Name()+"/"+f.Name())
			}
		}
	}
	return out
}

// writable reads the "flags:" line of an fdinfo file: opened for writing?
func writable(fdinfo string) bool {
	f, err := os.Open(fdinfo)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && flags&syscall.O_ACCMODE != syscall.O_RDONLY
		}
	}
	return false
}
