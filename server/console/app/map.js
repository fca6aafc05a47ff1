// Maps: MapLibre GL JS (its CSP build, loaded on first use so pages without a map never pay
// for it) drawing the server's own grid GeoJSON and records. By default no basemap and no tile
// server: the grids are the map, so it works with no internet at all. A server started with a
// basemap tile address (--basemap-tiles) writes it into the page, and the maps draw it below.

import { h } from './dom.js';
import { STATUS, KIND, label } from './labels.js';

let loading = null;

/** MapLibre, loaded once (script and stylesheet from this server). */
export function maplibre() {
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      // Beside this module, at the same versioned address.
      const here = (file) => new URL(`./${file}`, import.meta.url).pathname;
      document.head.append(h('link', { rel: 'stylesheet', href: here('maplibre-gl.css') }));
      const script = h('script', { src: here('maplibre-gl-csp.js') });
      script.addEventListener('load', () => {
        window.maplibregl.setWorkerUrl(here('maplibre-gl-csp-worker.js'));
        resolve(window.maplibregl);
      });
      script.addEventListener('error', () => reject(new Error('地图组件加载失败')));
      document.head.append(script);
    });
  }
  return loading;
}

/** Statuses in which nothing more is expected. */
export const SETTLED = new Set(['closed', 'resolved_in_grid']);

/** The colour of a record's state: settled, waiting on the field (returned), or open. */
export const STATE_COLOUR = [
  'case',
  ['in', ['get', 'status'], ['literal', [...SETTLED]]], '#2e7d32',
  ['==', ['get', 'status'], 'returned'], '#c62828',
  ['==', ['get', 'status'], 'rectified'], '#7b1fa2',
  '#ef6c00',
];

/** The bounds of a FeatureCollection's coordinates, or null when it has none. */
export function bounds(...collections) {
  let box = null;
  const visit = (coords) => {
    if (typeof coords[0] === 'number') {
      const [x, y] = coords;
      box = box ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x), Math.max(box[3], y)] : [x, y, x, y];
    } else coords.forEach(visit);
  };
  for (const fc of collections) for (const f of fc.features) if (f.geometry) visit(f.geometry.coordinates);
  return box;
}

/**
 * A map of `grids` (GeoJSON polygons, filled by `fill`: a MapLibre expression or colour) and
 * `records` (GeoJSON points coloured by state); `onGrid` / record popups link onwards.
 */
export async function gridMap(container, { grids, records, fill = '#8fb8de', dark = false, maxzoom = 18, outlines = 'line', onGrid, onReady }) {
  const maplibregl = await maplibre();
  const tiles = document.querySelector('meta[name="gs-basemap"]');
  const attribution = document.querySelector('meta[name="gs-basemap-attribution"]');
  const layers = [{ id: 'ground', type: 'background', paint: { 'background-color': dark ? '#07162b' : '#eef2f6' } }];
  if (tiles) layers.push({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': dark ? 0.35 : 1 } });
  const map = new maplibregl.Map({
    container,
    style: {
      version: 8,
      sources: tiles ? { basemap: { type: 'raster', tiles: [tiles.content], tileSize: 256, maxzoom: 19 } } : {},
      layers,
    },
    attributionControl: false,
    dragRotate: false,
    pitchWithRotate: false,
    fadeDuration: 0,
  });
  map.touchZoomRotate.disableRotation();
  // The basemap's attribution as text (MapLibre's own control would parse it as HTML).
  if (tiles && attribution) container.append(h('div', { class: 'map-attribution' }, attribution.content));
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.on('load', () => {
    map.addSource('grids', { type: 'geojson', data: grids, promoteId: 'code', tolerance: 0.5, maxzoom });
    const edge = dark ? '#5fa8ff' : '#0b3d6e';
    // Outlines as lines (widths by zoom), or as the fill's own one-pixel edge: far cheaper to
    // draw when tens of thousands of grids are in view.
    map.addLayer({
      id: 'grid-fill', type: 'fill', source: 'grids',
      paint: {
        'fill-color': fill,
        'fill-opacity': dark ? 0.75 : 0.55,
        ...(outlines === 'fill' ? { 'fill-outline-color': edge } : {}),
      },
    });
    if (outlines === 'line') {
      map.addLayer({
        id: 'grid-line', type: 'line', source: 'grids',
        paint: { 'line-color': edge, 'line-width': ['interpolate', ['linear'], ['zoom'], 8, 0.3, 14, 1.5] },
      });
    }
    if (records) {
      map.addSource('records', { type: 'geojson', data: records });
      map.addLayer({
        id: 'records', type: 'circle', source: 'records',
        paint: {
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 3, 15, 8],
          'circle-color': STATE_COLOUR,
          'circle-stroke-color': ['case', ['==', ['get', 'kind'], 'risk_inspection'], '#000000', '#ffffff'],
          'circle-stroke-width': 1.5,
        },
      });
      map.on('click', 'records', (event) => {
        const p = event.features[0].properties;
        new maplibregl.Popup({ closeButton: false })
          .setLngLat(event.lngLat)
          .setDOMContent(h('div', { class: 'popup' },
            h('a', { href: `#/record/${p.id}` }, p.title),
            h('div', {}, `${label(KIND, p.kind)} · ${label(STATUS, p.status)}`)))
          .addTo(map);
      });
      map.on('mouseenter', 'records', () => { map.getCanvas().style.cursor = 'pointer'; });
      map.on('mouseleave', 'records', () => { map.getCanvas().style.cursor = ''; });
    }
    if (onGrid) {
      map.on('click', 'grid-fill', (event) => {
        if (records && map.queryRenderedFeatures(event.point, { layers: ['records'] }).length) return;
        onGrid(event.features[0].properties.code, event.lngLat);
      });
    }
    const box = bounds(grids, records || { features: [] });
    if (box) map.fitBounds(box, { padding: 24, duration: 0 });
    map.once('idle', () => {
      // What is drawn, for whoever checks the page (the browser tests, a wall display's monitor).
      const drawn = new Set(map.queryRenderedFeatures({ layers: ['grid-fill'] }).map((f) => f.properties.code));
      container.dataset.drawnGrids = String(drawn.size);
      container.dataset.ready = 'true';
      if (onReady) onReady(map);
    });
  });
  return map;
}
