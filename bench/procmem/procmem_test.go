package procmem

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const status = `Name:	writer
Umask:	0022
State:	S (sleeping)
Pid:	4242
VmPeak:	 1300000 kB
VmSize:	 1290000 kB
VmHWM:	  183512 kB
VmRSS:	  150020 kB
RssAnon:	  140000 kB
Threads:	9
`

func TestParse(t *testing.T) {
	st, err := Parse(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	// VmPeak is virtual memory and must not be mistaken for the RSS peak.
	if st.Peak != 183512*1024 || st.RSS != 150020*1024 {
		t.Errorf("got %+v, want peak %d and rss %d", st, 183512*1024, 150020*1024)
	}
}

func TestParseZombieHasNoMemory(t *testing.T) {
	_, err := Parse(strings.NewReader("Name:\twriter\nState:\tZ (zombie)\nPid:\t7\n"))
	if !errors.Is(err, ErrNoMemory) {
		t.Errorf("err = %v, want ErrNoMemory", err)
	}
}

func TestParseRejectsOddUnits(t *testing.T) {
	for _, s := range []string{"VmHWM:\t 12 MB\n", "VmRSS:\tlots kB\n", "VmHWM:\t-5 kB\n"} {
		if _, err := Parse(strings.NewReader(s)); err == nil {
			t.Errorf("%q: want an error", s)
		}
	}
}

func TestReadSelf(t *testing.T) {
	st, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSS <= 0 || st.Peak < st.RSS {
		t.Errorf("own memory = %+v: want 0 < RSS ≤ peak", st)
	}
	if _, err := Read(-1); err == nil {
		t.Error("pid -1: want an error")
	}
}
