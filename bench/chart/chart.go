// Package chart draws the benchmark's time series (writer throughput and
// consumer lag during a run) and curves as a grid of line plots in one PNG,
// with gonum/plot.
package chart

import (
	"errors"
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one sample: X (e.g. seconds since the run started) and Y.
type Point struct{ X, Y float64 }

// Series is one line.
type Series struct {
	Name   string
	Points []Point
}

// Panel is one plot of the grid.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
	Dots                  bool // mark each point, for curves with few points
}

// palette is distinguishable in colour and in greyscale print.
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// WritePNG draws panels row by row, cols to a row, each panel
// panelW × panelH, into a PNG file at path.
func WritePNG(path string, cols int, panelW, panelH vg.Length, panels []Panel) error {
	if len(panels) == 0 {
		return errors.New("chart: no panels")
	}
	if cols < 1 {
		return fmt.Errorf("chart: %d columns", cols)
	}
	rows := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
	}
	for i, p := range panels {
		pl, err := build(p)
		if err != nil {
			return fmt.Errorf("chart %q: %w", p.Title, err)
		}
		grid[i/cols][i%cols] = pl
	}

	img := vgimg.New(panelW*vg.Length(cols), panelH*vg.Length(rows))
	dc := draw.New(img)
	tiles := draw.Tiles{
		Rows: rows, Cols: cols,
		PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4,
	}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for c := range grid[r] {
			if grid[r][c] != nil {
				grid[r][c].Draw(canvases[r][c])
			}
		}
	}

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("chart: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chart: write %s: %w", path, err)
	}
	return nil
}

func build(p Panel) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.X.Label.Text = p.XLabel
	pl.Y.Label.Text = p.YLabel
	pl.Y.Min = 0 // throughput, lag and latency are never negative; keep 0 in view
	pl.Add(plotter.NewGrid())
	pl.Legend.Top = true
	pl.Legend.Left = true
	for i, s := range p.Series {
		xys := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			xys[j] = plotter.XY{X: pt.X, Y: pt.Y}
		}
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		pl.Add(line)
		if p.Dots {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("series %q: %w", s.Name, err)
			}
			sc.Color = line.Color
			pl.Add(sc)
		}
		if s.Name != "" {
			pl.Legend.Add(s.Name, line)
		}
	}
	return pl, nil
}
