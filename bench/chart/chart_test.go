package chart

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/vg"
)

func TestWritePNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.png")
	ramp := Series{Name: "rows/s", Points: []Point{{0, 0}, {0.25, 1000}, {0.5, 120000}, {0.75, 90000}}}
	panels := []Panel{
		{Title: "drain: throughput", XLabel: "s", YLabel: "rows/s", Series: []Series{ramp}},
		{Title: "drain: lag", XLabel: "s", YLabel: "records", Series: []Series{{Points: []Point{{0, 5}, {1, 0}}}}},
		{Title: "curve", Dots: true, Series: []Series{ramp, {Name: "empty"}}},
	}
	if err := WritePNG(path, 2, 4*vg.Inch, 3*vg.Inch, panels); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	// 2 columns × 2 rows of 4in × 3in panels at vgimg's default 96 dpi.
	if cfg.Width != 2*4*96 || cfg.Height != 2*3*96 {
		t.Errorf("image is %d×%d, want %d×%d", cfg.Width, cfg.Height, 2*4*96, 2*3*96)
	}
}

func TestWritePNGRejectsNothingToDraw(t *testing.T) {
	dir := t.TempDir()
	if err := WritePNG(filepath.Join(dir, "a.png"), 2, vg.Inch, vg.Inch, nil); err == nil {
		t.Error("no panels: want an error")
	}
	if err := WritePNG(filepath.Join(dir, "b.png"), 0, vg.Inch, vg.Inch, []Panel{{}}); err == nil {
		t.Error("0 columns: want an error")
	}
	if err := WritePNG(filepath.Join(dir, "missing", "c.png"), 1, vg.Inch, vg.Inch, []Panel{{}}); err == nil {
		t.Error("unwritable path: want an error")
	}
}
