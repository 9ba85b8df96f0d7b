// The cold-start chart for the README, as a hand-written SVG: one bar per contender (median time to
// first byte), split into the container's own start-and-listen time and the contender's overhead,
// with the p25–p75 range as a whisker.

import { COLD_CONTENDERS, type ColdSeries } from '../workloads/cold-rig.ts';

const LABELS: Record<string, string> = {
  direct: 'container alone (limit)',
  portwake: 'portwake',
  'recipe-waitport': 'recipe: waitport (nc -z / 0.1 s)',
  'recipe-sleep': 'recipe: sleep 1',
};

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderColdStartSvg(c: ColdSeries): string {
  const width = 760;
  const left = 230;
  const right = 120;
  const barH = 26;
  const gap = 18;
  const top = 58;
  const plot = width - left - right;
  const maxMs = Math.max(...COLD_CONTENDERS.map((k) => c.contenders[k].ttfb.p75), 1) * 1.05;
  const sx = (ms: number): number => (Math.max(0, ms) / maxMs) * plot;
  const height = top + COLD_CONTENDERS.length * (barH + gap) + 24;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="16" y="22" font-size="15" font-weight="600">Cold start: connect → first response byte (median of ${c.rounds} rounds)</text>`,
    `<text x="16" y="40" fill="#555" font-size="12">grey: the engine's start and the app's own listen · colour: what the contender adds · line: p25–p75</text>`,
  ];
  COLD_CONTENDERS.forEach((k, i) => {
    const s = c.contenders[k];
    const y = top + i * (barH + gap);
    const total = s.ttfb.median;
    const own = k === 'direct' ? total : Math.max(0, total - Math.max(0, s.overhead?.median ?? 0));
    const colour = k === 'portwake' ? '#2b8a3e' : k === 'direct' ? '#868e96' : '#c92a2a';
    parts.push(`<text x="${left - 10}" y="${y + barH / 2 + 4}" text-anchor="end">${esc(LABELS[k] ?? k)}</text>`);
    if (!Number.isFinite(total)) {
      parts.push(`<text x="${left}" y="${y + barH / 2 + 4}" fill="#c92a2a">no successful round</text>`);
      return;
    }
    parts.push(`<rect x="${left}" y="${y}" width="${sx(own).toFixed(1)}" height="${barH}" fill="#ced4da"/>`);
    if (k !== 'direct') parts.push(`<rect x="${(left + sx(own)).toFixed(1)}" y="${y}" width="${Math.max(1, sx(total) - sx(own)).toFixed(1)}" height="${barH}" fill="${colour}"/>`);
    const wy = y + barH / 2;
    parts.push(`<line x1="${(left + sx(s.ttfb.p25)).toFixed(1)}" x2="${(left + sx(s.ttfb.p75)).toFixed(1)}" y1="${wy}" y2="${wy}" stroke="#212529" stroke-width="1.5"/>`);
    const over = s.overhead?.median;
    const signed = over === undefined ? '' : `${over < 0 ? '−' : '+'}${Math.abs(over).toFixed(Math.abs(over) < 10 ? 1 : 0)} ms`;
    const label = k === 'direct' ? `${total.toFixed(0)} ms` : `${total.toFixed(0)} ms (${signed})`;
    const failed = s.failed > 0 ? ` · ${s.failed} failed` : '';
    parts.push(`<text x="${(left + Math.max(sx(total), sx(s.ttfb.p75)) + 6).toFixed(1)}" y="${y + barH / 2 + 4}">${esc(label + failed)}</text>`);
  });
  const axisY = top + COLD_CONTENDERS.length * (barH + gap) - gap / 2;
  const step = niceStep(maxMs);
  parts.push(`<line x1="${left}" x2="${left + plot}" y1="${axisY}" y2="${axisY}" stroke="#adb5bd"/>`);
  for (let t = 0; t <= maxMs; t += step) {
    const x = left + sx(t);
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${axisY}" y2="${axisY + 5}" stroke="#adb5bd"/>`, `<text x="${x.toFixed(1)}" y="${axisY + 18}" text-anchor="middle" fill="#555" font-size="11">${t} ms</text>`);
  }
  parts.push('</svg>', '');
  return parts.join('\n');
}

function niceStep(max: number): number {
  const raw = max / 6;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * pow) return m * pow;
  return 10 * pow;
}
