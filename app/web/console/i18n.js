// The console's words, in English and Simplified Chinese, and the one switch between them.
//
// Every visible string of the console comes from here: `t(key, vars)` in the modules, and
// `data-i18n*` attributes in the pages (localize() fills them in as text, never as HTML). A
// value is a string with {name} slots, or a function of the slots where a language needs more
// (English plurals). Numbers and times are formatted by Intl for the language. The choice is kept
// in localStorage; the first visit follows navigator.language (Chinese for any zh-*).

const STORE = "nearby.language";

export const LANGUAGES = [
  ["en", "English"],
  ["zh-CN", "中文（简体）"],
];

const plural = (n, one, many) => (Number(n) === 1 ? one : many);

const STRINGS = {
  en: {
    "page.title": "Nearby console",
    "cashier.page-title": "Nearby cashier",
    "language.label": "Language",
    "tab.explore": "Explore",
    "tab.merchant": "Merchant",
    "coord.legend": "Coordinates",
    "map.label": "map",
    "map.attribution": "Outlines: Natural Earth (public domain)",
    "map.zoom-in": "Zoom in",
    "map.zoom-out": "Zoom out",
    "map.no-answer": "The service did not answer",
    "map.no-background": "The map background is missing",
    "map.land-missing": "the land outlines did not load (HTTP {status})",

    // api.js
    "api.unreachable": "The service cannot be reached ({reason}).",
    "api.error": "Error",
    "api.http": "HTTP {status}: {text}",
    "api.no-details": "no details",
    "problem.invalid-input": "Invalid input",
    "problem.unauthorized": "Unauthorized",
    "problem.forbidden": "Forbidden",
    "problem.not-found": "Not found",
    "problem.conflict": "Conflict",
    "problem.outside-fence": "Outside the geofence",
    "problem.not-active": "Offer not active",
    "problem.sold-out": "Sold out",
    "problem.limit-reached": "Per-user limit reached",
    "problem.already-redeemed": "Already redeemed",
    "problem.rate-limited": "Too many requests",
    "problem.content-too-large": "Content too large",
    "problem.unsupported-media-type": "Unsupported media type",
    "problem.not-ready": "Not ready",
    "problem.unavailable": "Service unavailable",

    // explore
    "explore.radius": "Radius (m)",
    "explore.radius-title": "metres (1 to 50000), or auto: 1, 2, 5, 10, 20, 50 km until the page is full",
    "explore.category": "Category",
    "explore.category-placeholder": "any (a,b for several)",
    "explore.keyword": "Keyword",
    "explore.keyword-placeholder": "name or tag",
    "explore.open-now": "open now",
    "explore.hint": "Click the map to search there.",
    "explore.offers-here": "Offers here",
    "explore.no-offers": "No offer covers this point now.",
    "explore.stores": "Stores",
    "explore.more": "More stores",
    "explore.searching": "Searching at {point} ...",
    "explore.no-answer": "No answer for {point}.",
    "explore.search-failed": "Search failed",
    "explore.more-failed": "More stores failed",
    "explore.search-point": "search point",
    "explore.summary": ({ count, more, radius, auto, point, coord }) =>
      `${count}${more ? "+" : ""} ${plural(count, "store", "stores")} within ${radius} m` +
      `${auto ? " (auto)" : ""} of ${point} (${coord})`,
    "explore.at-store": "at {name}",
    "explore.left": "{n} left",
    "explore.view-failed": "The map view could not be loaded",
    "explore.cell": ({ n, h3 }) => `${n} ${plural(n, "store", "stores")} in cell ${h3}`,
    "explore.cells": ({ n, resolution, truncated, zoom }) =>
      `${n} H3 cells at resolution ${resolution}${truncated ? " (the most populous)" : ""}; ` +
      `zoom to ${zoom} for stores`,
    "explore.in-view": ({ n, truncated }) =>
      `${n} stores in view${truncated ? ", the nearest the centre" : ""}`,
    "unit.m": "{n} m",
    "unit.km": "{n} km",
    "unlimited": "unlimited",

    // store details
    "store.category": "Category",
    "store.tags": "Tags",
    "store.address": "Address",
    "store.phone": "Phone",
    "store.opening-hours": "Opening hours",
    "store.timezone": "Time zone",
    "store.number": "Store number",

    // merchant
    "merchant.owner-key": "Owner key",
    "merchant.use-key": "Use key",
    "merchant.forget": "Forget",
    "merchant.key-hint": "The key stays in this browser (localStorage) and goes only to this service.",
    "merchant.find-store": "Find a store",
    "merchant.find-placeholder": "name",
    "merchant.offers": "Offers",
    "merchant.no-offers": "No offers yet.",
    "merchant.new-offer": "New offer",
    "merchant.title": "Title",
    "merchant.description": "Description",
    "merchant.fence": "Fence",
    "merchant.fence-store": "500 m round the store",
    "merchant.fence-circle": "circle",
    "merchant.fence-polygon": "polygon",
    "merchant.finish-polygon": "Finish polygon",
    "merchant.clear": "Clear",
    "merchant.starts": "Starts",
    "merchant.ends": "Ends",
    "merchant.quantity": "Quantity",
    "merchant.per-user": "Per user",
    "merchant.save-offer": "Save offer",
    "merchant.key-refused": "That key was not accepted",
    "merchant.stores-failed": "Your stores could not be loaded",
    "merchant.key-forgotten": "The key is forgotten.",
    "merchant.stores-summary": ({ n, complete }) =>
      `${n} ${plural(n, "store", "stores")}${complete ? "" : " (the first ones only)"}. ` +
      "Pick one to see and edit it and its offers.",
    "merchant.delete": "Delete",
    "merchant.statistics": "Statistics",
    "merchant.offers-failed": "The store's offers could not be loaded",
    "merchant.confirm-delete": "Delete \"{title}\" and its {n} codes?",
    "merchant.deleted": "Deleted \"{title}\".",
    "merchant.delete-failed": "The offer could not be deleted",
    "merchant.fence-unfinished": "The fence is not finished",
    "merchant.saved": "Saved \"{title}\" ({where}).",
    "merchant.not-saved": "The offer was not saved",
    "merchant.no-end": "no end",
    "merchant.codes": "{n} codes",
    "merchant.per-user-count": "{n} per user",
    "merchant.counts": "claimed {claimed} · redeemed {redeemed} · remaining {remaining}",
    "merchant.circle-at": "circle of {radius} m at {point}",
    "merchant.polygon-of": "polygon of {n} corners",
    "merchant.cashier-link": "Cashier (phone)",
    "status.active": "active",
    "status.scheduled": "scheduled",
    "status.sold_out": "sold out",
    "status.ended": "ended",

    // drawing a fence
    "draw.circle-radius": "Click the map again to set the radius, or type it. Clear starts over.",
    "draw.circle-centre": "Click the map where the circle's centre goes.",
    "draw.polygon-closed": "Polygon of {n} corners. Clear starts over.",
    "draw.polygon-corners": "Click the polygon's corners on the map ({n} so far).",
    "draw.polygon-close": "{n} corners: click the first one or \"Finish polygon\" to close it.",

    // events
    "events.heading": "Latest events",
    "events.hint": "Live: checked every few seconds, newest first.",
    "events.none": "No events yet. Claims, redemptions, sold-out offers, imports and fence visits show up here.",
    "events.failed": "The events could not be loaded",
    "events.updated": "Updated {time}.",
    "events.paused": "Paused while the page is hidden.",
    "events.offer": "offer {name}",
    "events.store": "store {name}",
    "events.user": "user {user}",
    "event.fence.entered": "Entered a fence",
    "event.fence.exited": "Left a fence",
    "event.fence.dwelled": "Stayed in a fence",
    "event.offer.claimed": "Code claimed",
    "event.claim.redeemed": "Code redeemed",
    "event.offer.sold_out": "Offer sold out",
    "event.import.finished": "Import finished",
    "data.code": "code {code}",
    "data.claimed-of": "{claimed} of {quantity} claimed",
    "data.claimed": "{claimed} claimed",
    "data.import": ({ status, total, ok, failed }) =>
      `${status}: ${ok} of ${total} ${plural(total, "row", "rows")} loaded, ${failed} rejected`,
    "import.done": "done",
    "import.failed": "failed",

    // webhooks
    "webhooks.heading": "Webhooks",
    "webhooks.hint": "Each event of your stores and offers is POSTed, signed, to every webhook that wants its type; failed deliveries are retried for 72 hours.",
    "webhooks.url": "URL",
    "webhooks.events": "Events",
    "webhooks.add": "Add webhook",
    "webhooks.none": "No webhooks yet.",
    "webhooks.failed": "The webhooks could not be loaded",
    "webhooks.pick-events": "Pick at least one event type.",
    "webhooks.not-added": "The webhook was not added",
    "webhooks.added": "Added the webhook for {url}.",
    "webhooks.secret": "Signing secret",
    "webhooks.secret-once": "Copy it now: it will not be shown again. Receivers check each delivery's Nearby-Signature with it.",
    "webhooks.copy": "Copy",
    "webhooks.copied": "The secret is copied.",
    "webhooks.copy-manually": "Select the secret and copy it yourself: this browser did not let the page copy.",
    "webhooks.done": "Done",
    "webhooks.created": "created {time}",
    "webhooks.delete": "Delete",
    "webhooks.confirm-delete": "Delete the webhook for {url}? Its pending deliveries are dropped.",
    "webhooks.deleted": "Deleted the webhook for {url}.",
    "webhooks.delete-failed": "The webhook could not be deleted",
    "webhooks.deliveries": "Deliveries",
    "webhooks.hide": "Hide deliveries",
    "webhooks.status-filter": "Status",
    "webhooks.all": "all",
    "webhooks.no-deliveries": "No deliveries here yet.",
    "webhooks.deliveries-failed": "The deliveries could not be loaded",
    "delivery.pending": "pending",
    "delivery.delivered": "delivered",
    "delivery.failed": "failed",
    "delivery.attempts": ({ n }) => `${n} ${plural(n, "attempt", "attempts")}`,
    "delivery.answered": "last answer HTTP {status}",
    "delivery.error": "last error: {error}",
    "delivery.next": "next try {time}",
    "delivery.delivered-at": "delivered {time}",
    "delivery.event": "event {id}",

    // cashier
    "cashier.heading": "Cashier",
    "cashier.intro": "Type or paste the customer's code, check it, then redeem it.",
    "cashier.code": "Code",
    "cashier.code-placeholder": "26 letters and digits",
    "cashier.check": "Check",
    "cashier.redeem": "Redeem",
    "cashier.clear": "Next customer",
    "cashier.sign-in": "Sign in with the owner key of the stores.",
    "cashier.signed-in": "Signed in on this phone.",
    "cashier.back": "Back to the console",
    "cashier.bad-code": "That is not a code: a code is 26 letters A-Z and digits 2-7.",
    "cashier.unknown": "No code {code} exists. Check it letter by letter.",
    "cashier.not-yours": "This code belongs to another owner's offer: it cannot be redeemed here.",
    "cashier.key-refused": "The owner key was not accepted. Sign in again.",
    "cashier.failed": "The code could not be checked",
    "cashier.redeem-failed": "The code could not be redeemed",
    "cashier.valid": "Valid: not redeemed yet.",
    "cashier.already": "Already redeemed on {time}.",
    "cashier.redeemed": "Redeemed at {time}.",
    "cashier.offer": "Offer",
    "cashier.store": "Store",
    "cashier.valid-window": "Valid",
    "cashier.window": "{from} → {to}",
    "cashier.claimed": "Claimed",
    "cashier.customer": "Customer",
    "cashier.offer-status": "Offer status",
  },

  "zh-CN": {
    "page.title": "Nearby 控制台",
    "cashier.page-title": "Nearby 收银核销",
    "language.label": "语言",
    "tab.explore": "探索",
    "tab.merchant": "商家",
    "coord.legend": "坐标系",
    "map.label": "地图",
    "map.attribution": "轮廓：Natural Earth（公有领域）",
    "map.zoom-in": "放大",
    "map.zoom-out": "缩小",
    "map.no-answer": "服务没有响应",
    "map.no-background": "地图底图缺失",
    "map.land-missing": "陆地轮廓未能加载（HTTP {status}）",

    "api.unreachable": "无法连接服务（{reason}）。",
    "api.error": "错误",
    "api.http": "HTTP {status}：{text}",
    "api.no-details": "无详细信息",
    "problem.invalid-input": "输入无效",
    "problem.unauthorized": "未授权",
    "problem.forbidden": "无权操作",
    "problem.not-found": "未找到",
    "problem.conflict": "冲突",
    "problem.outside-fence": "不在地理围栏内",
    "problem.not-active": "优惠未生效",
    "problem.sold-out": "已领完",
    "problem.limit-reached": "已达每人领取上限",
    "problem.already-redeemed": "已核销",
    "problem.rate-limited": "请求过于频繁",
    "problem.content-too-large": "内容过大",
    "problem.unsupported-media-type": "不支持的媒体类型",
    "problem.not-ready": "服务尚未就绪",
    "problem.unavailable": "服务暂时不可用",

    "explore.radius": "半径（米）",
    "explore.radius-title": "米（1 到 50000），或 auto：依次扩大到 1、2、5、10、20、50 公里，直到一页填满",
    "explore.category": "类别",
    "explore.category-placeholder": "任意（多个用 a,b）",
    "explore.keyword": "关键词",
    "explore.keyword-placeholder": "名称或标签",
    "explore.open-now": "正在营业",
    "explore.hint": "点击地图，在该处搜索。",
    "explore.offers-here": "此处的优惠",
    "explore.no-offers": "此处目前没有优惠。",
    "explore.stores": "门店",
    "explore.more": "更多门店",
    "explore.searching": "正在搜索 {point} ……",
    "explore.no-answer": "{point} 没有结果。",
    "explore.search-failed": "搜索失败",
    "explore.more-failed": "加载更多门店失败",
    "explore.search-point": "搜索点",
    "explore.summary": ({ count, more, radius, auto, point, coord }) =>
      `${point}（${coord}）周边 ${radius} 米${auto ? "（自动）" : ""}内有 ${count}${more ? "+" : ""} 家门店`,
    "explore.at-store": "门店：{name}",
    "explore.left": "剩余 {n} 张",
    "explore.view-failed": "地图视图未能加载",
    "explore.cell": "H3 单元 {h3} 内有 {n} 家门店",
    "explore.cells": ({ n, resolution, truncated, zoom }) =>
      `分辨率 ${resolution} 的 ${n} 个 H3 单元${truncated ? "（门店最多的）" : ""}；放大到 ${zoom} 级可见门店`,
    "explore.in-view": ({ n, truncated }) =>
      `视野内 ${n} 家门店${truncated ? "（离中心最近的）" : ""}`,
    "unit.m": "{n} 米",
    "unit.km": "{n} 公里",
    "unlimited": "不限量",

    "store.category": "类别",
    "store.tags": "标签",
    "store.address": "地址",
    "store.phone": "电话",
    "store.opening-hours": "营业时间",
    "store.timezone": "时区",
    "store.number": "门店编号",

    "merchant.owner-key": "商家密钥",
    "merchant.use-key": "使用密钥",
    "merchant.forget": "清除密钥",
    "merchant.key-hint": "密钥只保存在本浏览器（localStorage）中，只发送给本服务。",
    "merchant.find-store": "查找门店",
    "merchant.find-placeholder": "名称",
    "merchant.offers": "优惠",
    "merchant.no-offers": "还没有优惠。",
    "merchant.new-offer": "新建优惠",
    "merchant.title": "标题",
    "merchant.description": "说明",
    "merchant.fence": "围栏",
    "merchant.fence-store": "门店周边 500 米",
    "merchant.fence-circle": "圆形",
    "merchant.fence-polygon": "多边形",
    "merchant.finish-polygon": "完成多边形",
    "merchant.clear": "清除",
    "merchant.starts": "开始",
    "merchant.ends": "结束",
    "merchant.quantity": "数量",
    "merchant.per-user": "每人限领",
    "merchant.save-offer": "保存优惠",
    "merchant.key-refused": "该密钥未被接受",
    "merchant.stores-failed": "未能加载您的门店",
    "merchant.key-forgotten": "密钥已清除。",
    "merchant.stores-summary": ({ n, complete }) =>
      `${n} 家门店${complete ? "" : "（仅前面一部分）"}。选择一家门店查看、编辑它及其优惠。`,
    "merchant.delete": "删除",
    "merchant.statistics": "统计",
    "merchant.offers-failed": "未能加载该门店的优惠",
    "merchant.confirm-delete": "删除“{title}”及其 {n} 个优惠码？",
    "merchant.deleted": "已删除“{title}”。",
    "merchant.delete-failed": "未能删除该优惠",
    "merchant.fence-unfinished": "围栏尚未完成",
    "merchant.saved": "已保存“{title}”（{where}）。",
    "merchant.not-saved": "优惠未保存",
    "merchant.no-end": "无结束时间",
    "merchant.codes": "共 {n} 张",
    "merchant.per-user-count": "每人 {n} 张",
    "merchant.counts": "已领取 {claimed} · 已核销 {redeemed} · 剩余 {remaining}",
    "merchant.circle-at": "以 {point} 为圆心、半径 {radius} 米的圆",
    "merchant.polygon-of": "{n} 个顶点的多边形",
    "merchant.cashier-link": "收银核销（手机）",
    "status.active": "进行中",
    "status.scheduled": "未开始",
    "status.sold_out": "已领完",
    "status.ended": "已结束",

    "draw.circle-radius": "再次点击地图设定半径，或直接输入。点“清除”重新开始。",
    "draw.circle-centre": "在地图上点击圆心的位置。",
    "draw.polygon-closed": "{n} 个顶点的多边形。点“清除”重新开始。",
    "draw.polygon-corners": "在地图上依次点击多边形的顶点（已有 {n} 个）。",
    "draw.polygon-close": "已有 {n} 个顶点：点击第一个顶点或“完成多边形”闭合。",

    "events.heading": "最新事件",
    "events.hint": "实时：每隔几秒刷新一次，最新的在最上面。",
    "events.none": "还没有事件。领取、核销、领完、导入和进出围栏都会显示在这里。",
    "events.failed": "未能加载事件",
    "events.updated": "更新于 {time}。",
    "events.paused": "页面隐藏时暂停刷新。",
    "events.offer": "优惠 {name}",
    "events.store": "门店 {name}",
    "events.user": "用户 {user}",
    "event.fence.entered": "进入围栏",
    "event.fence.exited": "离开围栏",
    "event.fence.dwelled": "在围栏内停留",
    "event.offer.claimed": "优惠码已领取",
    "event.claim.redeemed": "优惠码已核销",
    "event.offer.sold_out": "优惠已领完",
    "event.import.finished": "导入完成",
    "data.code": "优惠码 {code}",
    "data.claimed-of": "已领取 {claimed} / {quantity}",
    "data.claimed": "已领取 {claimed}",
    "data.import": "{status}：{total} 行中导入 {ok} 行，拒绝 {failed} 行",
    "import.done": "完成",
    "import.failed": "失败",

    "webhooks.heading": "Webhook 回调",
    "webhooks.hint": "您的门店和优惠的每个事件都会签名后 POST 到订阅该类型的每个 Webhook；投递失败会在 72 小时内重试。",
    "webhooks.url": "网址",
    "webhooks.events": "事件",
    "webhooks.add": "添加 Webhook",
    "webhooks.none": "还没有 Webhook。",
    "webhooks.failed": "未能加载 Webhook",
    "webhooks.pick-events": "请至少选择一种事件类型。",
    "webhooks.not-added": "Webhook 未添加",
    "webhooks.added": "已为 {url} 添加 Webhook。",
    "webhooks.secret": "签名密钥",
    "webhooks.secret-once": "请立即复制：它不会再次显示。接收方用它校验每次投递的 Nearby-Signature。",
    "webhooks.copy": "复制",
    "webhooks.copied": "密钥已复制。",
    "webhooks.copy-manually": "浏览器不允许本页复制，请自行选中密钥并复制。",
    "webhooks.done": "完成",
    "webhooks.created": "创建于 {time}",
    "webhooks.delete": "删除",
    "webhooks.confirm-delete": "删除 {url} 的 Webhook？尚未投递的事件将不再发送。",
    "webhooks.deleted": "已删除 {url} 的 Webhook。",
    "webhooks.delete-failed": "未能删除该 Webhook",
    "webhooks.deliveries": "投递记录",
    "webhooks.hide": "收起投递记录",
    "webhooks.status-filter": "状态",
    "webhooks.all": "全部",
    "webhooks.no-deliveries": "这里还没有投递记录。",
    "webhooks.deliveries-failed": "未能加载投递记录",
    "delivery.pending": "待投递",
    "delivery.delivered": "已送达",
    "delivery.failed": "失败",
    "delivery.attempts": "尝试 {n} 次",
    "delivery.answered": "最近响应 HTTP {status}",
    "delivery.error": "最近错误：{error}",
    "delivery.next": "下次重试 {time}",
    "delivery.delivered-at": "送达于 {time}",
    "delivery.event": "事件 {id}",

    "cashier.heading": "收银核销",
    "cashier.intro": "输入或粘贴顾客的优惠码，核对后核销。",
    "cashier.code": "优惠码",
    "cashier.code-placeholder": "26 位字母和数字",
    "cashier.check": "查询",
    "cashier.redeem": "核销",
    "cashier.clear": "下一位顾客",
    "cashier.sign-in": "请用门店所属商家的密钥登录。",
    "cashier.signed-in": "本手机已登录。",
    "cashier.back": "返回控制台",
    "cashier.bad-code": "这不是有效的优惠码：优惠码由 26 位字母 A-Z 和数字 2-7 组成。",
    "cashier.unknown": "优惠码 {code} 不存在，请逐字核对。",
    "cashier.not-yours": "该优惠码属于其他商家的优惠，不能在此核销。",
    "cashier.key-refused": "商家密钥未被接受，请重新登录。",
    "cashier.failed": "未能查询该优惠码",
    "cashier.redeem-failed": "未能核销该优惠码",
    "cashier.valid": "有效：尚未核销。",
    "cashier.already": "已于 {time} 核销。",
    "cashier.redeemed": "核销成功，时间 {time}。",
    "cashier.offer": "优惠",
    "cashier.store": "门店",
    "cashier.valid-window": "有效期",
    "cashier.window": "{from} → {to}",
    "cashier.claimed": "领取时间",
    "cashier.customer": "顾客",
    "cashier.offer-status": "优惠状态",
  },
};

function initial() {
  const kept = localStorage.getItem(STORE);
  if (kept && STRINGS[kept]) return kept;
  const asked = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of asked) {
    if (/^zh\b/i.test(tag ?? "")) return "zh-CN";
    if (/^en\b/i.test(tag ?? "")) return "en";
  }
  return "en";
}

let current = initial();
const listeners = [];

export const language = () => current;

// The string of `key` in the current language with its {slots} filled in; numbers are written
// by Intl for the language. An unknown key shows as itself (never as nothing).
export function t(key, vars = {}) {
  const entry = STRINGS[current][key] ?? STRINGS.en[key];
  if (entry === undefined) return key;
  const shown = Object.fromEntries(
    Object.entries(vars).map(([name, value]) => [name, typeof value === "number" ? number(value) : value]),
  );
  if (typeof entry === "function") return entry(shown);
  return entry.replace(/\{(\w+)\}/g, (slot, name) => (name in shown ? String(shown[name]) : slot));
}

// Whether `key` has words in the console (for titles chosen by a problem's type).
export const has = (key) => key in STRINGS.en;

export function number(value, options = {}) {
  return new Intl.NumberFormat(current, { maximumFractionDigits: 2, ...options }).format(value);
}

// An RFC 3339 instant as the language writes a date and time (in the browser's time zone).
export function dateTime(iso, { seconds = false } = {}) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(current, {
    dateStyle: "medium",
    timeStyle: seconds ? "medium" : "short",
  }).format(new Date(iso));
}

// The page's fixed words: every element with data-i18n gets its text, and data-i18n-placeholder,
// -title, -aria-label their attribute.
export function localize(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  for (const attribute of ["placeholder", "title", "aria-label"]) {
    const name = `i18n${attribute.replace(/(^|-)(\w)/g, (_, dash, c) => c.toUpperCase())}`;
    for (const element of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      element.setAttribute(attribute, t(element.dataset[name]));
    }
  }
  document.documentElement.lang = current;
}

export function setLanguage(code) {
  if (!STRINGS[code] || code === current) return;
  current = code;
  localStorage.setItem(STORE, code);
  localize();
  for (const listener of listeners) listener(code);
}

// listener(code) after every switch, once the page's fixed words are in the new language.
export function onLanguageChange(listener) {
  listeners.push(listener);
}

// The <select> that switches: one option per language, named in its own language.
export function languageSwitch(select) {
  select.replaceChildren(
    ...LANGUAGES.map(([code, name]) => {
      const option = document.createElement("option");
      option.value = code;
      option.textContent = name;
      return option;
    }),
  );
  select.value = current;
  select.addEventListener("change", () => setLanguage(select.value));
  onLanguageChange((code) => {
    select.value = code;
  });
}
