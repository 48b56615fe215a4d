package main

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// chartWorkloads are the workloads the chart compares, one bar each per
// server: the server CPU time per echoed message.
var chartWorkloads = [...]string{"pingpong", "pipelined", "stream"}

// chart draws the median server CPU µs per message of every server under
// the echo workloads, grouped by server, to path (.png or .svg).
func (r *report) chart(path string) error {
	var names []string
	var servers []string
	for _, s := range r.Servers {
		for _, w := range chartWorkloads {
			if sum := r.find(s.Name, w); sum != nil && sum.Status == statusOK && sum.ServerCPUus > 0 {
				names = append(names, s.Label)
				servers = append(servers, s.Name)
				break
			}
		}
	}
	if len(servers) == 0 {
		return fmt.Errorf("no echo workload results to draw")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Server CPU per echoed message (median of %d rounds; GOMAXPROCS=%d; %d CPUs, %s)",
		r.Meta.Rounds, r.Meta.ServerCPUs, r.Meta.CPUs, r.Meta.GoVersion)
	p.Y.Label.Text = "server CPU µs per message (lower is better)"
	p.Legend.Top = true
	width := vg.Points(14)
	drawn := 0
	for _, w := range chartWorkloads {
		vals := make(plotter.Values, len(servers))
		any := false
		for i, s := range servers {
			if sum := r.find(s, w); sum != nil && sum.Status == statusOK {
				vals[i] = sum.ServerCPUus
				any = any || sum.ServerCPUus > 0
			}
		}
		if !any {
			continue
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(drawn)
		bars.Offset = width * vg.Length(drawn-1)
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
	return p.Save(11*vg.Inch, 5.5*vg.Inch, path)
}
