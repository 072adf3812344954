/** A horizontal bar chart as a self-contained SVG: no library, no fonts to fetch. */

export interface Bar {
  label: string;
  value: number;
  /** Drawn in the accent colour (MCpeg) or grey (others). */
  accent: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function barChart(title: string, unit: string, bars: Bar[]): string {
  const rowH = 28;
  const labelW = 300;
  const plotW = 440;
  const top = 44;
  const width = labelW + plotW + 90;
  const height = top + bars.length * rowH + 30;
  const max = Math.max(1, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const v = Number.isFinite(b.value) ? b.value : 0;
    const w = Math.max(1, (v / max) * plotW);
    out.push(
      `<text x="${labelW - 8}" y="${y + 17}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${b.accent ? '#2f6fdf' : '#9a9a9a'}"/>`,
      `<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 17}">${Number.isFinite(b.value) ? Math.round(b.value).toLocaleString('en-US') : 'n/a'}</text>`,
    );
  });
  out.push(`<text x="${labelW}" y="${height - 8}" fill="#555">${esc(unit)}</text>`, '</svg>');
  return out.join('\n') + '\n';
}
