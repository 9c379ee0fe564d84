package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the unit of the CPU times of /proc/<pid>/stat. Linux has
// used 100 (USER_HZ) on every architecture for its user-visible interface.
// TODO: read sysconf(_SC_CLK_TCK) instead of assuming 100; that needs cgo
// or parsing the auxiliary vector (AT_CLKTCK in /proc/self/auxv).
const clockTicks = 100

// cpuSample is the CPU time of processes at one moment, in clock ticks, by
// pid.
type cpuSample map[int]uint64

// errNoProcess reports a pid with no /proc entry.
var errNoProcess = errors.New("no such process")

// sampleCPU reads the CPU time of pids: utime+stime plus cutime+cstime, the
// time of the children they waited for (which is how PostgreSQL's exited
// backends stay counted, in their postmaster).
// With skipGone, a pid that no longer exists is left out rather than an
// error.
func sampleCPU(pids []int, skipGone bool) (cpuSample, error) {
	s := cpuSample{}
	for _, pid := range pids {
		t, err := readCPU(pid)
		if skipGone && errors.Is(err, errNoProcess) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s[pid] = t
	}
	return s, nil
}

// readCPU reads the CPU time of pid in clock ticks.
func readCPU(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("read cpu of pid %d: %w", pid, errNoProcess)
	}
	if err != nil {
		return 0, fmt.Errorf("read cpu of pid %d: %w", pid, err)
	}
	return parseStat(data)
}

// parseStat sums fields 14 to 17 (utime, stime, cutime, cstime) of a
// /proc/<pid>/stat line. The command name, field 2, is in parentheses and
// may hold spaces, so the fields are counted from the last ')'.
func parseStat(data []byte) (uint64, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, fmt.Errorf("parse stat: %w", errors.New("no command name"))
	}
	// After ')' come field 3 (state) onwards: field n is at index n-3.
	fields := strings.Fields(string(data[end+1:]))
	const first, last = 14 - 3, 17 - 3
	if len(fields) <= last {
		return 0, fmt.Errorf("parse stat: %w", errors.New("too few fields"))
	}
	var sum uint64
	for _, f := range fields[first : last+1] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse stat field %q: %w", f, err)
		}
		sum += uint64(max(v, 0))
	}
	return sum, nil
}

// cpuReport compares two samples of pids and spreads the CPU time over
// tasks. A process only in end counts from zero (it started during the
// run); one only in start is left out (its time went to its parent).
func cpuReport(pids []int, start, end cpuSample, tasks int) processReport {
	var ticks uint64
	for pid, t := range end {
		if t0, ok := start[pid]; ok && t >= t0 {
			ticks += t - t0
		} else if !ok {
			ticks += t
		}
	}
	rep := processReport{PIDs: pids, CPUSeconds: float64(ticks) / clockTicks}
	if tasks > 0 {
		rep.CPUMsPerTask = rep.CPUSeconds * 1000 / float64(tasks)
	}
	return rep
}

// sampleRSS reads the resident set size of pids, in kB.
func sampleRSS(pids []int) ([]int64, error) {
	var out []int64
	for _, pid := range pids {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return nil, fmt.Errorf("read rss of pid %d: %w", pid, err)
		}
		rss, err := parseRSS(f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("read rss of pid %d: %w", pid, err)
		}
		out = append(out, rss)
	}
	return out, nil
}

// parseRSS finds the VmRSS line of a /proc/<pid>/status file.
func parseRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("scan status: %w", err)
	}
	return 0, errors.New("no VmRSS line")
}

// processesNamed lists the pids whose /proc/<pid>/comm is name.
func processesNamed(name string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue // gone since the listing
		}
		if strings.TrimSpace(string(comm)) == name {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// busyCores is the average number of cores a CPU time kept busy over elapsed.
func busyCores(cpuSeconds float64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return cpuSeconds / elapsed.Seconds()
}
