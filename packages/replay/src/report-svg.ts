import type { ReplayReport } from './report-schema';

/** One line of a chart: a value per x position, with optional interval bounds drawn as whiskers. */
interface Series {
  name: string;
  values: ReadonlyArray<number | null>;
  low?: ReadonlyArray<number | null>;
  high?: ReadonlyArray<number | null>;
}

interface Panel {
  title: string;
  xLabels: readonly string[];
  series: readonly Series[];
}

/** Colours of the lines, a qualitative palette that stays readable for the common colour deficiencies (Okabe and Ito, 2008). */
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
const PANEL_WIDTH = 360;
const PANEL_HEIGHT = 240;
const MARGIN = { left: 48, right: 16, top: 28, bottom: 36 };
const LEGEND_ROW_HEIGHT = 18;

/** Draws HitRate@K and NDCG@K of every ranker against K, with the bootstrap intervals as whiskers. */
export function renderMetricsByK(report: ReplayReport): string {
  const ks = report.settings.ks.map(String);
  const panel = (title: string, metric: 'hitRate' | 'ndcg'): Panel => ({
    title,
    xLabels: ks.map((k) => `K=${k}`),
    series: report.rankers.map((ranker) => ({
      name: ranker.name,
      values: ks.map((k) => ranker.metrics[metric][k]?.value ?? null),
      low: ks.map((k) => ranker.metrics[metric][k]?.low ?? null),
      high: ks.map((k) => ranker.metrics[metric][k]?.high ?? null),
    })),
  });
  return renderPanels([panel('HitRate@K', 'hitRate'), panel('NDCG@K', 'ndcg')], report.rankers.map((ranker) => ranker.name));
}

/** Draws HitRate@K of every ranker over consecutive time buckets of the evaluated events. */
export function renderMetricsOverTime(report: ReplayReport): string {
  const buckets = report.overTime.buckets;
  const panel: Panel = {
    title: `HitRate@${report.overTime.k} by period`,
    xLabels: buckets.map((bucket) => new Date(bucket.fromMs).toISOString().slice(0, 10)),
    series: report.rankers.map((ranker) => ({ name: ranker.name, values: buckets.map((bucket) => bucket.hitRate[ranker.name] ?? null) })),
  };
  return renderPanels([panel], report.rankers.map((ranker) => ranker.name));
}

function renderPanels(panels: readonly Panel[], names: readonly string[]): string {
  const width = PANEL_WIDTH * panels.length;
  const legendHeight = LEGEND_ROW_HEIGHT * names.length + 8;
  const height = PANEL_HEIGHT + legendHeight;
  const body = panels.map((panel, index) => `<g transform="translate(${PANEL_WIDTH * index},0)">${renderPanel(panel)}</g>`);
  const legend = names.map((name, index) => {
    const y = PANEL_HEIGHT + 4 + LEGEND_ROW_HEIGHT * index;
    return `<g transform="translate(${MARGIN.left},${y})"><rect width="12" height="12" fill="${colour(index)}"/><text x="18" y="10">${escapeXml(name)}</text></g>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}

function renderPanel(panel: Panel): string {
  const plotWidth = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const maximum = niceMaximum(panel.series.flatMap((series) => [...series.values, ...(series.high ?? [])]));
  const x = (index: number) => MARGIN.left + (panel.xLabels.length === 1 ? plotWidth / 2 : (index * plotWidth) / (panel.xLabels.length - 1));
  const y = (value: number) => MARGIN.top + plotHeight - (value / maximum) * plotHeight;
  const parts = [`<text x="${PANEL_WIDTH / 2}" y="16" text-anchor="middle" font-size="13">${escapeXml(panel.title)}</text>`];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (maximum * tick) / 4;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(value)}" y2="${y(value)}" stroke="#dddddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(value) + 4}" text-anchor="end">${formatTick(value)}</text>`,
    );
  }
  const labelEvery = Math.max(1, Math.ceil(panel.xLabels.length / 5));
  panel.xLabels.forEach((label, index) => {
    if (index % labelEvery === 0) {
      parts.push(`<text x="${x(index)}" y="${PANEL_HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${escapeXml(label)}</text>`);
    }
  });
  panel.series.forEach((series, seriesIndex) => parts.push(renderSeries(series, colour(seriesIndex), x, y)));
  return parts.join('');
}

function renderSeries(series: Series, stroke: string, x: (index: number) => number, y: (value: number) => number): string {
  const points = series.values.flatMap((value, index) => (value === null ? [] : [`${round(x(index))},${round(y(value))}`]));
  const parts = [`<polyline fill="none" stroke="${stroke}" stroke-width="2" points="${points.join(' ')}"/>`];
  series.values.forEach((value, index) => {
    if (value === null) {
      return;
    }
    const low = series.low?.[index];
    const high = series.high?.[index];
    if (low !== undefined && low !== null && high !== undefined && high !== null) {
      parts.push(`<line x1="${round(x(index))}" x2="${round(x(index))}" y1="${round(y(low))}" y2="${round(y(high))}" stroke="${stroke}"/>`);
    }
    parts.push(`<circle cx="${round(x(index))}" cy="${round(y(value))}" r="3" fill="${stroke}"/>`);
  });
  return parts.join('');
}

/** Returns a round axis maximum at or above every value: 1, 2 or 5 times a power of ten. */
function niceMaximum(values: ReadonlyArray<number | null>): number {
  const largest = Math.max(0, ...values.filter((value): value is number => value !== null));
  if (largest <= 0) {
    return 1;
  }
  const power = 10 ** Math.floor(Math.log10(largest));
  const step = [1, 2, 5, 10].find((factor) => factor * power >= largest) ?? 10;
  return step * power;
}

function formatTick(value: number): string {
  return Number(value.toPrecision(3)).toString();
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function colour(index: number): string {
  return COLOURS[index % COLOURS.length] as string;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
