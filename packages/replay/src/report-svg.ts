import type { ReplayReport } from './report-schema';

/** One line of a chart: a value per x position, with optional interval bounds drawn as whiskers. */
interface Series {
  name: string;
  values: ReadonlyArray<number | null>;
  low?: ReadonlyArray<number | null>;
  high?: ReadonlyArray<number | null>;
}

/** A labelled tick on the x axis, at a position in the axis's own unit. */
interface Tick {
  position: number;
  label: string;
}

interface Panel {
  title: string;
  /** The x position of each value, in the axis's own unit (an index, or epoch ms). */
  xPositions: readonly number[];
  xTicks: readonly Tick[];
  series: readonly Series[];
}

/** Colours of the lines, a qualitative palette that stays readable for the common colour deficiencies (Okabe and Ito, 2008). */
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
const PANEL_WIDTH = 360;
const PANEL_HEIGHT = 240;
const MARGIN = { left: 48, right: 16, top: 28, bottom: 36 };
const LEGEND_ROW_HEIGHT = 18;
/** Labelled ticks at most on an x axis of K values. */
const MAX_TICKS = 5;
/**
 * Ticks on a time axis: its two ends and the middle. A date label is about 60 px wide at 11 px, and
 * the plot is 296 px wide, so more labels would overlap.
 */
const TIME_TICKS = 3;
const DAY_MS = 86_400_000;

/** Draws HitRate@K and NDCG@K of every ranker against K, with the bootstrap intervals as whiskers. */
export function renderMetricsByK(report: ReplayReport): string {
  const ks = report.settings.ks.map(String);
  const panel = (title: string, metric: 'hitRate' | 'ndcg'): Panel => ({
    title,
    xPositions: ks.map((_, index) => index),
    xTicks: ks.map((k, index) => ({ position: index, label: `K=${k}` })),
    series: report.rankers.map((ranker) => ({
      name: ranker.name,
      values: ks.map((k) => ranker.metrics[metric][k]?.value ?? null),
      low: ks.map((k) => ranker.metrics[metric][k]?.low ?? null),
      high: ks.map((k) => ranker.metrics[metric][k]?.high ?? null),
    })),
  });
  return renderPanels([panel('HitRate@K', 'hitRate'), panel('NDCG@K', 'ndcg')], report.rankers.map((ranker) => ranker.name));
}

/**
 * Draws HitRate@K of every ranker over consecutive time buckets of the evaluated events. Each
 * bucket contains an equal share of the points, so buckets span unequal times. A bucket's value is
 * placed at the middle of its time span on a linear time axis.
 */
export function renderMetricsOverTime(report: ReplayReport): string {
  const buckets = report.overTime.buckets;
  const panel: Panel = {
    title: `HitRate@${report.overTime.k} by period`,
    xPositions: buckets.map((bucket) => (bucket.fromMs + bucket.toMs) / 2),
    xTicks: timeTicks(buckets[0]?.fromMs, buckets.at(-1)?.toMs),
    series: report.rankers.map((ranker) => ({ name: ranker.name, values: buckets.map((bucket) => bucket.hitRate[ranker.name] ?? null) })),
  };
  return renderPanels([panel], report.rankers.map((ranker) => ranker.name));
}

/**
 * Returns evenly spaced ticks from `fromMs` to `toMs`, in UTC. Labels give the date for a span of
 * two days or more, the date and minute down to ten minutes, and the second below that.
 */
function timeTicks(fromMs: number | undefined, toMs: number | undefined): Tick[] {
  if (fromMs === undefined || toMs === undefined) {
    return [];
  }
  const spanMs = toMs - fromMs;
  const label = (ms: number) => {
    const iso = new Date(ms).toISOString();
    if (spanMs >= 2 * DAY_MS) {
      return iso.slice(0, 10);
    }
    return spanMs >= 10 * 60_000 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 19);
  };
  if (spanMs === 0) {
    return [{ position: fromMs, label: label(fromMs) }];
  }
  return Array.from({ length: TIME_TICKS }, (_, index) => {
    const position = fromMs + (index * spanMs) / (TIME_TICKS - 1);
    return { position, label: label(position) };
  });
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
  const x = linearScale([...panel.xPositions, ...panel.xTicks.map((tick) => tick.position)], MARGIN.left, MARGIN.left + plotWidth);
  const xOfValue = (index: number) => x(panel.xPositions[index] as number);
  const y = (value: number) => MARGIN.top + plotHeight - (value / maximum) * plotHeight;
  const parts = [`<text x="${PANEL_WIDTH / 2}" y="16" text-anchor="middle" font-size="13">${escapeXml(panel.title)}</text>`];
  for (let tick = 0; tick <= 4; tick++) {
    const value = (maximum * tick) / 4;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(value)}" y2="${y(value)}" stroke="#dddddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(value) + 4}" text-anchor="end">${formatTick(value)}</text>`,
    );
  }
  const labelEvery = Math.max(1, Math.ceil(panel.xTicks.length / MAX_TICKS));
  panel.xTicks.forEach((tick, index) => {
    if (index % labelEvery === 0) {
      const tickX = round(x(tick.position));
      parts.push(`<text x="${tickX}" y="${PANEL_HEIGHT - MARGIN.bottom + 16}" text-anchor="${tickAnchor(tickX, plotWidth)}">${escapeXml(tick.label)}</text>`);
    }
  });
  panel.series.forEach((series, seriesIndex) => parts.push(renderSeries(series, colour(seriesIndex), xOfValue, y)));
  return parts.join('');
}

/**
 * Returns the text anchor of an x tick label. A label centred on the plot's right edge would run
 * past the panel, so it ends there, and one on the left edge starts there to match.
 */
function tickAnchor(tickX: number, plotWidth: number): 'start' | 'middle' | 'end' {
  if (tickX >= MARGIN.left + plotWidth) {
    return 'end';
  }
  return tickX <= MARGIN.left ? 'start' : 'middle';
}

/** Maps the range of `values` linearly onto `from`..`to`. A single value, or equal ones, go to the middle. */
function linearScale(values: readonly number[], from: number, to: number): (value: number) => number {
  const low = Math.min(...values);
  const high = Math.max(...values);
  if (!(high > low)) {
    return () => (from + to) / 2;
  }
  return (value: number) => from + ((value - low) / (high - low)) * (to - from);
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
