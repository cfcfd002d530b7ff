package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// cpuProfileEnv names a file to which iocd writes a CPU profile (pprof
// format) of its whole run, from start to exit. It is a developer's switch
// for the benchmarks (IOCD_BENCH_PPROF passes it to the iocd child), not a
// configuration key: it is off unless set, serves nothing on the network,
// and a profile holds no message content.
const cpuProfileEnv = "IOCD_CPU_PROFILE"

// startCPUProfile starts the profile when cpuProfileEnv is set and returns
// what stops it and closes the file; without it, a no-op.
func startCPUProfile(stderr io.Writer) (stop func()) {
	path := os.Getenv(cpuProfileEnv)
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "iocd: %s: %v\n", cpuProfileEnv, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "iocd: %s: starting the cpu profile: %v\n", cpuProfileEnv, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "iocd: %s: %v\n", cpuProfileEnv, err)
		}
	}
}
