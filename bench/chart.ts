// A plain SVG bar chart: no dependency, readable in any browser or on GitHub.

export interface Bar { readonly label: string; readonly value: number; readonly note?: string }

export function barChartSvg(title: string, unit: string, groups: { name: string; bars: Bar[] }[]): string {
  const rowH = 22;
  const labelW = 300;
  const chartW = 420;
  const rows = groups.reduce((n, g) => n + g.bars.length + 1, 0);
  const height = 40 + rows * rowH + 10;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + chartW + 160}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  let y = 40;
  for (const g of groups) {
    parts.push(`<text x="10" y="${y + 14}" font-weight="bold">${esc(g.name)}</text>`);
    y += rowH;
    const max = Math.max(...g.bars.map((b) => b.value), 1e-9);
    for (const b of g.bars) {
      const w = Math.max(1, (b.value / max) * chartW);
      parts.push(`<text x="20" y="${y + 14}">${esc(b.label)}</text>`);
      parts.push(`<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="#4a7bd0"/>`);
      parts.push(`<text x="${labelW + w + 6}" y="${y + 14}">${esc(`${fmt(b.value)} ${unit}${b.note ? ` ${b.note}` : ''}`)}</text>`);
      y += rowH;
    }
  }
  parts.push('</svg>');
  return parts.join('\n');
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
