package bench_test

// A bar chart as SVG 1.1, written with the standard library only, so that
// make bench draws docs/performance.svg itself: per scenario, one horizontal
// bar per side, scaled to the longest bar of that scenario, with the side's
// name on the left and a label (the figure, the ratio) on the right.

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type chartBar struct {
	Name  string
	Value float64 // the bar's length, in any unit shared by its group
	Label string
	Ours  bool
}

type chartGroup struct {
	Title string
	Bars  []chartBar
}

// The chart's geometry, in pixels.
const (
	chartWidth  = 900
	chartNameW  = 210 // the column of side names
	chartBarW   = 460 // the longest bar of a group
	chartRow    = 20
	chartBarH   = 14
	chartTitleH = 24
	chartGap    = 14
	chartHead   = 56
)

func esc(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

// writeChart writes groups as one SVG document to w.
func writeChart(w io.Writer, title, subtitle string, groups []chartGroup) error {
	height := chartHead
	for _, g := range groups {
		height += chartTitleH + len(g.Bars)*chartRow + chartGap
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">
<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>
<text x="10" y="22" font-size="16" font-weight="bold">%s</text>
<text x="10" y="42" fill="#555555">%s</text>
`, chartWidth, height, chartWidth, height, chartWidth, height, esc(title), esc(subtitle))
	y := chartHead
	for _, g := range groups {
		writeGroup(bw, g, y)
		y += chartTitleH + len(g.Bars)*chartRow + chartGap
	}
	bw.WriteString("</svg>\n")
	return bw.Flush()
}

func writeGroup(w *bufio.Writer, g chartGroup, y int) {
	longest := 0.0
	for _, b := range g.Bars {
		longest = max(longest, b.Value)
	}
	fmt.Fprintf(w, "<g class=\"group\">\n<text x=\"10\" y=\"%d\" font-weight=\"bold\">%s</text>\n", y+16, esc(g.Title))
	y += chartTitleH
	for _, b := range g.Bars {
		width := 0.0
		if longest > 0 && b.Value > 0 {
			width = max(1, b.Value/longest*chartBarW)
		}
		class, fill := "bar peer", "#a0a0a0"
		if b.Ours {
			class, fill = "bar ours", "#c0392b"
		}
		mid := y + chartRow/2 + 4
		fmt.Fprintf(w, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", chartNameW-8, mid, esc(b.Name))
		fmt.Fprintf(w, "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n",
			class, chartNameW, y+(chartRow-chartBarH)/2, width, chartBarH, fill)
		fmt.Fprintf(w, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", float64(chartNameW)+width+6, mid, esc(b.Label))
		y += chartRow
	}
	w.WriteString("</g>\n")
}

// svgDoc is what TestChart reads back.
type svgDoc struct {
	XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Version string   `xml:"version,attr"`
	Width   string   `xml:"width,attr"`
	Height  string   `xml:"height,attr"`
	Texts   []string `xml:"text"`
	Groups  []struct {
		Texts []string `xml:"text"`
		Rects []struct {
			Class string  `xml:"class,attr"`
			Width float64 `xml:"width,attr"`
		} `xml:"rect"`
	} `xml:"g"`
}

func TestChart(t *testing.T) {
	groups := []chartGroup{
		{Title: "Save of an 8-field model", Bars: []chartBar{
			{Name: "rapyer", Value: 100e3, Label: "100µs", Ours: true},
			{Name: "om Save twin", Value: 50e3, Label: "50µs, 0.50x ours"}}},
		{Title: "lock <acquire> & release", Bars: []chartBar{
			{Name: "rapyer", Value: 20e3, Label: "20µs", Ours: true},
			{Name: "redislock", Value: 40e3, Label: "40µs, 2.00x ours"},
			{Name: "none", Value: 0, Label: "0s"}}},
	}
	var sb strings.Builder
	if err := writeChart(&sb, "peers & us", "quiet", groups); err != nil {
		t.Fatal(err)
	}
	var doc svgDoc
	if err := xml.Unmarshal([]byte(sb.String()), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, sb.String())
	}
	if doc.Version != "1.1" || doc.Width != fmt.Sprint(chartWidth) || doc.Height != fmt.Sprint(chartHead+2*(chartTitleH+chartGap)+5*chartRow) {
		t.Errorf("svg version %q, %sx%s", doc.Version, doc.Width, doc.Height)
	}
	if len(doc.Texts) != 2 || doc.Texts[0] != "peers & us" {
		t.Errorf("title texts %q", doc.Texts)
	}
	if len(doc.Groups) != len(groups) {
		t.Fatalf("%d groups, want %d", len(doc.Groups), len(groups))
	}
	for i, g := range groups {
		dg := doc.Groups[i]
		if len(dg.Rects) != len(g.Bars) || len(dg.Texts) != 1+2*len(g.Bars) || dg.Texts[0] != g.Title {
			t.Errorf("group %d: %d bars, texts %q", i, len(dg.Rects), dg.Texts)
			continue
		}
		for j, b := range g.Bars {
			if dg.Texts[1+2*j] != b.Name || dg.Texts[2+2*j] != b.Label {
				t.Errorf("group %d bar %d: texts %q %q", i, j, dg.Texts[1+2*j], dg.Texts[2+2*j])
			}
			if (dg.Rects[j].Class == "bar ours") != b.Ours {
				t.Errorf("group %d bar %d: class %q", i, j, dg.Rects[j].Class)
			}
		}
	}
	// Each group is scaled to its longest bar; a zero is no bar.
	w := func(g, b int) float64 { return doc.Groups[g].Rects[b].Width }
	if w(0, 0) != chartBarW || w(0, 1) != chartBarW/2 || w(1, 1) != chartBarW || w(1, 0) != chartBarW/2 || w(1, 2) != 0 {
		t.Errorf("bar widths %v %v / %v %v %v", w(0, 0), w(0, 1), w(1, 0), w(1, 1), w(1, 2))
	}
}

// peerChart is the peer table as bars: per scenario, time per op of ours and
// each peer, labelled with the figure and the peer's time over ours.
func peerChart(m measured) []chartGroup {
	var gs []chartGroup
	for _, ps := range peerScenarios {
		ours := ps.name + "/" + ps.sides[0].name
		g := chartGroup{Title: ps.what}
		for i, s := range ps.sides {
			k := ps.name + "/" + s.name
			label := perOp(m, k, ps.workers)
			switch {
			case i == 0:
			case ps.workers > 1:
				label += fmt.Sprintf(", %.2fx our rate", 1/m.ratio(k, ours))
			default:
				label += fmt.Sprintf(", %.2fx our time", m.ratio(k, ours))
			}
			g.Bars = append(g.Bars, chartBar{Name: s.name, Value: m.ns(k), Label: label, Ours: i == 0})
		}
		gs = append(gs, g)
	}
	return gs
}

// writePeerChart writes the chart to RAPYER_BENCH_SVG, by default
// docs/performance.svg (the test runs in bench/), and returns the path.
func writePeerChart(t *testing.T, m measured, mode string) string {
	path := os.Getenv("RAPYER_BENCH_SVG")
	if path == "" {
		path = filepath.Join("..", "docs", "performance.svg")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Error(err)
		return ""
	}
	short, _, _ := strings.Cut(mode, " ")
	sub := fmt.Sprintf("Time per op, shorter is faster (with 8 goroutines: one over the rate). Red: rapyer-go; grey: peers and twins. Run: %s, %s.",
		short, time.Now().UTC().Format("2006-01-02"))
	err = writeChart(f, "rapyer-go against its peers (make bench)", sub, peerChart(m))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Error(err)
	}
	return path
}

// TestPeerChart draws the peer table of made-up figures: a group per
// scenario, a bar per side, ours first.
func TestPeerChart(t *testing.T) {
	m := measured{}
	for _, ps := range peerScenarios {
		for i, s := range ps.sides {
			ns := float64(10000 * (i + 1))
			m[ps.name+"/"+s.name] = &result{ns: []float64{ns, ns}}
		}
	}
	gs := peerChart(m)
	if len(gs) != len(peerScenarios) {
		t.Fatalf("%d groups for %d scenarios", len(gs), len(peerScenarios))
	}
	for i, g := range gs {
		ps := peerScenarios[i]
		if g.Title != ps.what || len(g.Bars) != len(ps.sides) || !g.Bars[0].Ours || g.Bars[1].Ours {
			t.Errorf("group %q: %+v", g.Title, g.Bars)
			continue
		}
		want := "20µs, 2.00x our time"
		if ps.workers > 1 {
			want = "50000/s, 0.50x our rate"
		}
		if g.Bars[1].Label != want {
			t.Errorf("%s: label %q, want %q", ps.name, g.Bars[1].Label, want)
		}
	}
}
