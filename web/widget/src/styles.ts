// All widget CSS; lives inside the shadow root only.
export const CSS = `
:host{all:initial}
*{box-sizing:border-box}
[hidden]{display:none!important}
.r{--c:#1f6feb;--bg:#fff;--fg:#1b1f24;--mu:#6b7280;--ln:#e5e7eb;font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","Noto Sans Thai",sans-serif;color:var(--fg);-webkit-font-smoothing:antialiased}
button{font:inherit;color:inherit;cursor:pointer;border:0;background:none;padding:0}
.l{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;background:var(--c);color:#fff;box-shadow:0 4px 16px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;z-index:2147483000;transition:transform .15s}
.l:hover{transform:scale(1.06)}
.l svg{width:28px;height:28px;fill:currentColor}
.b{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#e5484d;color:#fff;font-size:12px;font-weight:600;line-height:20px;text-align:center}
.w{position:fixed;right:20px;bottom:88px;width:370px;height:min(600px,calc(100vh - 110px));background:var(--bg);border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;z-index:2147483001}
.h{background:var(--c);color:#fff;padding:12px 14px;display:flex;align-items:center;gap:10px}
.h .t{flex:1;min-width:0}
.h .n{font-weight:600;font-size:15px}
.s{font-size:12px;opacity:.9;display:flex;align-items:center;gap:6px}
.s:before{content:"";width:8px;height:8px;border-radius:50%;background:#f5a524}
.s[data-status=online]:before{background:#3fd47d}
.s[data-status=auth_error]:before,.s[data-status=reconnecting]:before{background:#ff6b6b}
.x{width:32px;height:32px;border-radius:8px;font-size:22px;line-height:32px;color:#fff}
.x:hover{background:rgba(255,255,255,.15)}
.q,.e,.v{padding:6px 12px;font-size:12.5px;text-align:center;background:#fff8e6;color:#7a5a00;border-bottom:1px solid var(--ln)}
.e{background:#fdecec;color:#a11}
.v{background:#f3f4f6;color:var(--mu)}
.m{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f7f8fa;overscroll-behavior:contain}
.g{align-self:center;color:var(--mu);font-size:13px;padding:8px}
.i{display:flex;flex-direction:column;max-width:82%;align-self:flex-start}
.i.me{align-self:flex-end;align-items:flex-end}
.i.sys{align-self:center;align-items:center;max-width:90%}
.a{font-size:11.5px;color:var(--mu);margin:0 4px 2px}
.u{padding:8px 12px;border-radius:14px;background:#fff;border:1px solid var(--ln);white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere}
.me .u{background:var(--c);color:#fff;border-color:var(--c);border-bottom-right-radius:4px}
.k-agent .u{border-bottom-left-radius:4px}
.k-bot .u{background:#eef4ff;border-color:#d6e4ff;border-bottom-left-radius:4px}
.sys .u{background:none;border:0;color:var(--mu);font-size:12.5px;text-align:center;padding:2px 8px}
.u a{color:inherit}
.u:empty{display:none}
.f{display:flex;flex-wrap:wrap;gap:6px;margin-top:4px}
.me .f{justify-content:flex-end}
.f img{display:block;max-width:200px;max-height:160px;border-radius:10px;border:1px solid var(--ln);background:#fff}
.c{display:inline-flex;align-items:center;gap:4px;max-width:220px;padding:5px 9px;border-radius:8px;background:#fff;border:1px solid var(--ln);color:var(--fg);font-size:12.5px;text-decoration:none}
.c span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.o{font-size:11px;color:var(--mu);margin:2px 4px 0;display:flex;gap:6px}
.o .ok{color:var(--c)}
.pending .u{opacity:.65}
.failed .u{background:#fff;color:#a11;border-color:#f0b4b4}
.failed .o{color:#a11;cursor:pointer}
.y{padding:2px 14px 4px;font-size:12px;color:var(--mu);font-style:italic;background:#f7f8fa}
.p{display:flex;flex-wrap:wrap;gap:6px;padding:6px 10px 0}
.p .c button{color:var(--mu);font-size:14px;line-height:1;margin-left:2px}
.p .busy{opacity:.6}
.p .bad{border-color:#f0b4b4;color:#a11}
form{display:flex;align-items:flex-end;gap:6px;padding:8px 10px;border-top:1px solid var(--ln);background:#fff}
textarea{flex:1;resize:none;border:1px solid var(--ln);border-radius:10px;padding:8px 10px;font:inherit;color:inherit;max-height:120px;min-height:38px;outline:none;background:#fff}
textarea:focus{border-color:var(--c)}
.ic{width:36px;height:38px;display:flex;align-items:center;justify-content:center;border-radius:8px;color:var(--mu)}
.ic:hover{background:#f3f4f6}
.ic svg{width:20px;height:20px;fill:currentColor}
.sd{color:var(--c)}
.sd:disabled{opacity:.4;cursor:default}
@media (max-width:480px){.w{inset:0;right:0;bottom:0;width:100%;height:100%;border-radius:0}.open .l{display:none}textarea{font-size:16px}}
`;
