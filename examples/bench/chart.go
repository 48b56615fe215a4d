package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// chartWorkloads are the workloads the chart compares, one bar each per
// server: the server CPU time per echoed message relative to the native
// reactor's in the same run (over TLS, reactor's over TLS).
func chartWorkloads() []string {
	return []string{"pingpong", "pipelined", "stream", "tls-echo", "tls-pipelined"}
}

// errNothingToDraw: no chart workload ran (a run of churn alone, say).
var errNothingToDraw = errors.New("no echo workload results relative to reactor to draw")

// chart draws every server's median server CPU per message under the echo
// workloads, relative to the native reactor's (1.0), grouped by server, to
// path (.png or .svg). The absolute figures are in the tables.
func (r *report) chart(path string) error {
	// A server far above reactor (a process per connection) would flatten
	// every other bar: it is left out and named under the axis instead.
	const limit = 3.0
	var names, servers, off []string
	for _, s := range r.Servers {
		drawn, high := false, 0.0
		for _, w := range chartWorkloads() {
			if sum := r.find(s.Name, w); sum != nil && sum.Status == statusOK && sum.CPURatio > 0 {
				drawn, high = true, max(high, sum.CPURatio)
			}
		}
		switch {
		case !drawn:
		case high > limit:
			off = append(off, fmt.Sprintf("%s (up to %.1f×)", s.Label, high))
		default:
			names = append(names, s.Label)
			servers = append(servers, s.Name)
		}
	}
	if len(servers) == 0 {
		return errNothingToDraw
	}
	p := plot.New()
	base := "reactor on epoll"
	if slices.ContainsFunc(r.Workloads, func(w workload) bool { return w.TLS && slices.Contains(chartWorkloads(), w.Name) }) {
		base = "reactor (TLS: to reactor TLS)"
	}
	p.Title.Text = fmt.Sprintf("Server CPU per echoed message, relative to %s (median of %d rounds; GOMAXPROCS=%d; %d CPUs; %s; %s)",
		base, r.Meta.Rounds, r.Meta.ServerCPUs, r.Meta.CPUs, r.Meta.GoVersion, r.Meta.Date)
	p.Y.Label.Text = "server CPU per message, × reactor (lower is better)"
	p.Legend.Top = true
	p.Legend.Left = true
	if len(off) > 0 {
		p.X.Label.Text = "off the scale: " + strings.Join(off, ", ")
	}
	width := vg.Points(14)
	type series struct {
		w    string
		vals plotter.Values
	}
	var all []series
	for _, w := range chartWorkloads() {
		vals := make(plotter.Values, len(servers))
		any := false
		for i, s := range servers {
			if sum := r.find(s, w); sum != nil && sum.Status == statusOK {
				vals[i] = sum.CPURatio
				any = any || sum.CPURatio > 0
			}
		}
		if any {
			all = append(all, series{w, vals})
		}
	}
	drawn := 0
	for _, sr := range all {
		w, vals := sr.w, sr.vals
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(drawn)
		bars.Offset = width * (vg.Length(drawn) - vg.Length(len(all)-1)/2)
		p.Add(bars)
		title := w
		for _, wl := range r.Workloads {
			if wl.Name == w {
				title = wl.Title
			}
		}
		p.Legend.Add(title, bars)
		drawn++
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.35
	p.X.Tick.Label.XAlign = -0.9
	p.X.Tick.Label.YAlign = -0.6
	p.Add(plotter.NewGrid())
	one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(servers)) - 0.5, Y: 1}})
	if err != nil {
		return err
	}
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(one)
	p.Y.Min = 0
	p.Y.Max *= 1.3 // room for the legend
	return p.Save(11*vg.Inch, 5.5*vg.Inch, path)
}
