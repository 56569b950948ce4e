package loadgen

import (
	"fmt"
	"image/color"
	"io"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Colours of the plot.
var (
	colourHTTP  = color.NRGBA{R: 31, G: 119, B: 180, A: 90}
	colourWS    = color.NRGBA{R: 44, G: 160, B: 44, A: 90}
	colourError = color.NRGBA{R: 214, G: 39, B: 40, A: 255}
	colourP99   = color.NRGBA{R: 0, G: 0, B: 0, A: 255}
	colourP50   = color.NRGBA{R: 255, G: 127, B: 14, A: 255}
)

// WritePlot draws the run's latency over time as a PNG: every request as a
// dot (time sent, latency; by transport, errors in red) with the p50 and
// p99 of each second as lines.
func (r *Report) WritePlot(w io.Writer) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("stratus loadtest: %d users, %s, %s input — %.0f answers/s, p99 %.1f ms, %d errors",
		r.Users, r.Transport, r.Input, r.Throughput, r.Latency.P99, r.Errors)
	p.X.Label.Text = "time sent (s from the end of the warm-up)"
	p.Y.Label.Text = "latency (ms)"
	p.Add(plotter.NewGrid())

	var byT = map[Transport]plotter.XYs{}
	var errs plotter.XYs
	for _, res := range r.Results {
		xy := plotter.XY{X: res.At.Seconds(), Y: float64(res.Latency) / float64(time.Millisecond)}
		if res.Err != "" {
			errs = append(errs, xy)
		} else {
			byT[res.Transport] = append(byT[res.Transport], xy)
		}
	}
	for _, t := range []Transport{HTTP, WS} {
		if len(byT[t]) == 0 {
			continue
		}
		s, err := plotter.NewScatter(byT[t])
		if err != nil {
			return fmt.Errorf("loadgen: plot: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: map[Transport]color.Color{HTTP: colourHTTP, WS: colourWS}[t], Radius: vg.Points(1.2), Shape: draw.CircleGlyph{}}
		p.Add(s)
		p.Legend.Add(fmt.Sprintf("%s answer", t), s)
	}
	if len(errs) > 0 {
		s, err := plotter.NewScatter(errs)
		if err != nil {
			return fmt.Errorf("loadgen: plot: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: colourError, Radius: vg.Points(2.5), Shape: draw.CrossGlyph{}}
		p.Add(s)
		p.Legend.Add("error", s)
	}
	var p50, p99 plotter.XYs
	for _, s := range r.PerSecond {
		if s.Answers > 0 {
			p50 = append(p50, plotter.XY{X: float64(s.T) + 0.5, Y: s.P50})
			p99 = append(p99, plotter.XY{X: float64(s.T) + 0.5, Y: s.P99})
		}
	}
	for _, l := range []struct {
		name   string
		xys    plotter.XYs
		colour color.Color
	}{{"p50 of each second", p50, colourP50}, {"p99 of each second", p99, colourP99}} {
		if len(l.xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(l.xys)
		if err != nil {
			return fmt.Errorf("loadgen: plot: %w", err)
		}
		line.LineStyle.Color, line.LineStyle.Width = l.colour, vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	p.Legend.Top = true
	p.Y.Min = 0
	// Room above the dots for the legend.
	p.Y.Max = 1.3 * max(r.Latency.Max, maxLatency(errs), 1)

	c := vgimg.PngCanvas{Canvas: vgimg.New(11*vg.Inch, 5.5*vg.Inch)}
	p.Draw(draw.New(c))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("loadgen: write the plot: %w", err)
	}
	return nil
}

// maxLatency is the highest Y of xys.
func maxLatency(xys plotter.XYs) float64 {
	m := 0.0
	for _, xy := range xys {
		m = max(m, xy.Y)
	}
	return m
}
