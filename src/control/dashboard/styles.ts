// The dashboard's stylesheet: system fonts, light and dark from prefers-color-scheme, one column on a
// phone, a card grid on wider screens. Served inline (hash-pinned by the page's CSP).

export const dashboardCss = `
:root {
  color-scheme: light dark;
  --bg: #f4f5f7; --panel: #ffffff; --panel-2: #f7f8fa; --text: #1b1f24; --muted: #5f6b7a;
  --line: #e2e6eb; --accent: #3b6cf6; --accent-text: #ffffff;
  --ready: #1f9d55; --ready-bg: #e3f6ea; --starting: #c77c02; --starting-bg: #fff3d6;
  --paused: #2f6fb3; --paused-bg: #e2eefb;
  --stopped: #6b7686; --stopped-bg: #eceff3; --failed: #d03a3a; --failed-bg: #fde7e7;
  --bar-a: #3b6cf6; --bar-b: #9db4fb; --shadow: 0 1px 2px rgba(16, 24, 40, .06), 0 1px 3px rgba(16, 24, 40, .08);
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1217; --panel: #171b22; --panel-2: #1d222b; --text: #e6e9ee; --muted: #95a0b0;
    --line: #2a313c; --accent: #6d93ff; --accent-text: #0b0e13;
    --ready: #3ecf7a; --ready-bg: #173626; --starting: #f2b441; --starting-bg: #3a2f14;
    --paused: #6aa8ec; --paused-bg: #172a3f;
    --stopped: #8f9aab; --stopped-bg: #252b35; --failed: #ff6b6b; --failed-bg: #3d1d20;
    --bar-a: #6d93ff; --bar-b: #34477d; --shadow: none;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-variant-numeric: tabular-nums;
}
header.top {
  position: sticky; top: 0; z-index: 5; background: color-mix(in srgb, var(--bg) 88%, transparent);
  backdrop-filter: blur(8px); border-bottom: 1px solid var(--line);
}
.top-inner {
  max-width: 1200px; margin: 0 auto; padding: 12px 16px; display: flex; flex-wrap: wrap;
  align-items: center; gap: 8px 16px;
}
.brand { display: flex; align-items: center; gap: 8px; font-weight: 650; font-size: 17px; letter-spacing: -.01em; }
.brand svg { width: 22px; height: 22px; color: var(--accent); }
.summary { display: flex; flex-wrap: wrap; gap: 6px; }
.chip {
  display: inline-flex; align-items: center; gap: 6px; padding: 2px 10px; border-radius: 999px;
  background: var(--panel); border: 1px solid var(--line); font-size: 13px; color: var(--muted);
}
.chip b { color: var(--text); font-weight: 600; }
.live { margin-left: auto; font-size: 13px; color: var(--muted); display: inline-flex; align-items: center; gap: 6px; }
.live .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--stopped); }
.live[data-live="live"] .dot { background: var(--ready); box-shadow: 0 0 0 3px var(--ready-bg); }
.live[data-live="down"] .dot { background: var(--failed); }
main { max-width: 1200px; margin: 0 auto; padding: 16px; }
.grid { display: grid; gap: 14px; grid-template-columns: repeat(auto-fill, minmax(min(100%, 340px), 1fr)); }
.empty { color: var(--muted); text-align: center; padding: 48px 16px; }
.card {
  background: var(--panel); border: 1px solid var(--line); border-radius: 14px; box-shadow: var(--shadow);
  padding: 14px 16px; display: flex; flex-direction: column; gap: 12px; min-width: 0;
  border-top: 3px solid var(--c, var(--stopped));
}
.card[data-state="ready"] { --c: var(--ready); --cbg: var(--ready-bg); }
.card[data-state="starting"], .card[data-state="stopping"], .card[data-state="pausing"], .card[data-state="unpausing"] { --c: var(--starting); --cbg: var(--starting-bg); }
.card[data-state="paused"] { --c: var(--paused); --cbg: var(--paused-bg); }
.card[data-state="stopped"] { --c: var(--stopped); --cbg: var(--stopped-bg); }
.card[data-state="failed"] { --c: var(--failed); --cbg: var(--failed-bg); }
.card-head { display: flex; align-items: flex-start; justify-content: space-between; gap: 10px; }
.card-title { min-width: 0; }
.card h2 { margin: 0; font-size: 17px; font-weight: 650; overflow-wrap: anywhere; }
.container { color: var(--muted); font-size: 13px; overflow-wrap: anywhere; }
.pill {
  flex: none; display: inline-flex; align-items: center; gap: 6px; padding: 3px 10px; border-radius: 999px;
  font-size: 13px; font-weight: 600; color: var(--c); background: var(--cbg);
}
.pill .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--c); }
.card[data-state="starting"] .pill .dot, .card[data-state="stopping"] .pill .dot, .card[data-state="pausing"] .pill .dot, .card[data-state="unpausing"] .pill .dot { animation: pulse 1s ease-in-out infinite; }
@keyframes pulse { 50% { opacity: .25; } }
@media (prefers-reduced-motion: reduce) { .pill .dot { animation: none !important; } }
.error {
  margin: 0; padding: 8px 10px; border-radius: 8px; background: var(--failed-bg); color: var(--failed);
  font-size: 13px; overflow-wrap: anywhere;
}
.error code { font-weight: 650; margin-right: 6px; }
.stats { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px 16px; margin: 0; }
.stats div { min-width: 0; }
.stats dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.stats dd { margin: 2px 0 0; font-weight: 550; overflow-wrap: anywhere; }
.stats dd small { color: var(--muted); font-weight: 400; }
.chart { background: var(--panel-2); border-radius: 10px; padding: 8px 10px 6px; }
.chart-head { display: flex; justify-content: space-between; gap: 8px; font-size: 12px; color: var(--muted); }
.chart-head .last { color: var(--text); font-weight: 550; text-align: right; }
.chart svg { display: block; width: 100%; height: 56px; margin-top: 4px; }
.chart .bar-a { fill: var(--bar-a); }
.chart .bar-b { fill: var(--bar-b); }
.chart .axis { stroke: var(--line); stroke-width: 1; }
.chart .nodata { height: 56px; margin-top: 4px; display: grid; place-items: center; color: var(--muted); font-size: 12px; border-bottom: 1px solid var(--line); }
.legend { display: flex; gap: 12px; font-size: 11px; color: var(--muted); margin-top: 2px; }
.legend i { display: inline-block; width: 8px; height: 8px; border-radius: 2px; margin-right: 4px; vertical-align: 0; }
.legend .a { background: var(--bar-a); } .legend .b { background: var(--bar-b); }
.legend .max { margin-left: auto; }
.card-foot { display: flex; justify-content: flex-end; margin-top: auto; }
.listeners { display: flex; flex-wrap: wrap; gap: 4px; min-width: 0; margin-top: -4px; }
.listener {
  font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted);
  background: var(--panel-2); border: 1px solid var(--line); border-radius: 6px; padding: 0 6px;
  overflow-wrap: anywhere; min-width: 0;
}
.actions { display: flex; gap: 8px; margin-left: auto; }
button {
  font: inherit; font-size: 14px; font-weight: 600; min-height: 40px; padding: 0 16px; border-radius: 10px;
  border: 1px solid var(--line); background: var(--panel); color: var(--text); cursor: pointer;
}
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); }
button:disabled { opacity: .45; cursor: default; }
button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.toasts { position: fixed; left: 50%; bottom: 16px; transform: translateX(-50%); display: grid; gap: 8px; width: min(92vw, 520px); z-index: 10; }
.toast {
  background: var(--text); color: var(--bg); padding: 10px 14px; border-radius: 10px; font-size: 14px;
  box-shadow: 0 6px 20px rgba(0, 0, 0, .25); overflow-wrap: anywhere;
}
.toast.bad { background: var(--failed); color: #fff; }
dialog {
  border: 1px solid var(--line); border-radius: 14px; background: var(--panel); color: var(--text);
  padding: 20px; width: min(92vw, 380px);
}
dialog::backdrop { background: rgba(0, 0, 0, .45); }
dialog h2 { margin: 0 0 6px; font-size: 17px; }
dialog p { margin: 0 0 14px; color: var(--muted); font-size: 14px; }
dialog input {
  width: 100%; font: inherit; padding: 10px 12px; border-radius: 10px; border: 1px solid var(--line);
  background: var(--panel-2); color: var(--text); margin-bottom: 14px;
}
dialog .row { display: flex; justify-content: flex-end; gap: 8px; }
footer.page { max-width: 1200px; margin: 0 auto; padding: 4px 16px 28px; color: var(--muted); font-size: 12px; }
@media (max-width: 520px) {
  .top-inner { padding: 10px 12px; }
  main { padding: 12px; }
  .live { margin-left: 0; }
  .actions { width: 100%; }
  .actions button { flex: 1; }
}
`;
