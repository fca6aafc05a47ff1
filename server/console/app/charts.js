// Charts: Apache ECharts (what Chinese government dashboards use), loaded on first use. Its
// tooltips render as rich text on the canvas, never as HTML, so names from the data cannot
// become markup.

import { h } from './dom.js';

let loading = null;

/** ECharts, loaded once from this server. */
export function echarts() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = h('script', { src: new URL('./echarts.min.js', import.meta.url).pathname });
      script.addEventListener('load', () => resolve(window.echarts));
      script.addEventListener('error', () => reject(new Error('图表组件加载失败')));
      document.head.append(script);
    });
  }
  return loading;
}

const charts = new Set();
window.addEventListener('resize', () => charts.forEach((c) => c.resize()));

/** A chart in `container` with `option`; the container says when it has drawn. */
export async function chart(container, option, { dark = false } = {}) {
  const lib = await echarts();
  const existing = lib.getInstanceByDom(container);
  const instance = existing || lib.init(container, dark ? 'dark' : null, { renderer: 'canvas' });
  charts.add(instance);
  instance.on('finished', () => { container.dataset.ready = 'true'; });
  instance.setOption({
    backgroundColor: 'transparent',
    textStyle: { fontFamily: '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif' },
    tooltip: { trigger: 'axis', renderMode: 'richText' },
    ...option,
  }, true);
  return instance;
}

/** A rate (0..1 or null) as a percentage for a chart: null stays null (no bar). */
export function percent(rate) {
  return rate === null || rate === undefined ? null : Math.round(rate * 1000) / 10;
}
