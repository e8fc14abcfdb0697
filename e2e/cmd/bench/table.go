//go:build linux

package main

import "strings"

// table is a Markdown table.
type table struct {
	header []string
	rows   [][]string
}

// add appends a row; missing cells render empty, extra cells are dropped.
func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// markdown renders t as GitHub-flavoured Markdown, one line per row.
func (t table) markdown() string {
	var b strings.Builder
	writeRow(&b, t.header, len(t.header))
	sep := make([]string, len(t.header))
	for i := range sep {
		sep[i] = "---"
	}
	writeRow(&b, sep, len(t.header))
	for _, r := range t.rows {
		writeRow(&b, r, len(t.header))
	}
	return b.String()
}

func writeRow(b *strings.Builder, cells []string, n int) {
	b.WriteString("|")
	for i := range n {
		cell := ""
		if i < len(cells) {
			cell = cells[i]
		}
		b.WriteString(" " + escapeCell(cell) + " |")
	}
	b.WriteString("\n")
}

// escapeCell keeps a cell on its line and in its column.
func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", " ")
}
