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
    "merchant.find-placeholder": "name or store number",
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
    "cashier.offer-status": "Offer status",

    // the owner's stores (stores.js)
    "stores.none": "No store matches.",
    "stores.new": "New store",
    "stores.upload": "Upload a store list",
    "stores.cluster": ({ n }) => `${n} ${plural(n, "store", "stores")}`,
    "stores.edit": "Edit store",
    "stores.statistics": "Store statistics",

    // a store's form (storeform.js)
    "storeform.new": "New store",
    "storeform.new-hint": "Click the map where the store is, or type its coordinates.",
    "storeform.edit": "Edit {name}",
    "storeform.edit-hint": "Drag the marker or click the map to move the store.",
    "storeform.name": "Name",
    "storeform.number-placeholder": "e.g. SH-0001",
    "storeform.category-placeholder": "e.g. coffee",
    "storeform.tags-placeholder": "wifi; outdoor",
    "storeform.timezone-placeholder": "from the position",
    "storeform.latitude": "Latitude",
    "storeform.longitude": "Longitude",
    "storeform.save": "Save store",
    "storeform.cancel": "Cancel",
    "storeform.position": "the store's position",
    "storeform.not-saved": "The store was not saved",
    "storeform.no-position": "click the map where it is, or type its latitude and longitude",
    "storeform.saved": "Saved \"{name}\" at {point}.",

    // uploading a store list (upload.js)
    "upload.file": "File",
    "upload.map": "Map columns",
    "upload.map-placeholder": "lat=dataX, external_id=Store Number",
    "upload.set": "Set for every row",
    "upload.set-placeholder": "category=tea, timezone=Asia/Shanghai",
    "upload.start": "Upload",
    "upload.close": "Close",
    "upload.row": "Row",
    "upload.field": "Field",
    "upload.problem": "Problem",
    "upload.errors-csv": "Download every rejected row (errors.csv)",
    "upload.counts": ({ status, total, failed }) =>
      `${status}: ${total} ${plural(total, "row", "rows")} read, ${failed} rejected`,
    "upload.stored": ", {ok} stored ({inserted} new, {updated} changed)",
    "upload.failed": "The store list was not imported",
    "upload.done": "Imported {file}: {ok} stores stored, {failed} rows rejected.",
    "upload.the-list": "the list",
    "upload.csv-failed": "errors.csv could not be fetched",
    "import.uploading": "uploading",
    "import.queued": "queued",
    "import.running": "running",

    // editing an offer (offeredit.js)
    "offeredit.heading": "Edit offer",
    "offeredit.edit": "Edit",
    "offeredit.end-now": "End now",
    "offeredit.print-qr": "Print QR code",
    "offeredit.save": "Save changes",
    "offeredit.saved": "Saved \"{title}\".",
    "offeredit.not-changed": "The offer was not changed",
    "offeredit.confirm-end": "End \"{title}\" now? Codes already claimed stay redeemable.",
    "offeredit.ended": "Ended \"{title}\"; its {n} claimed codes stay redeemable.",
    "offeredit.not-ended": "The offer was not ended",

    // statistics (stats.js)
    "stats.heading": "Statistics: ",
    "stats.range": "Range",
    "stats.days": ({ n }) => `${n} ${plural(n, "day", "days")}`,
    "stats.by": "By",
    "stats.by-day": "day",
    "stats.by-hour": "hour (up to 31 days)",
    "stats.numbers": "The chart's numbers",
    "stats.from": "From",
    "stats.claims": "Claims",
    "stats.redemptions": "Redemptions",
    "stats.rate": "Redemption rate",
    "stats.users": "Users",
    "stats.shares": "Shares",
    "stats.range-text": "{from} – {to} ({timezone}, by {bucket})",
    "stats.bucket.day": "day",
    "stats.bucket.hour": "hour",
    "stats.sharers": "Top sharers",
    "stats.no-sharers": "No claims through shares in this range.",
    "stats.top": "top 80%",
    "stats.sharer": "own {claims} claims · {redemptions} redeemed · chain {chainClaims} claims · {chainRedemptions} redeemed · depth {depth}",
    "stats.kol": "{sharers} of {of} sharers bring {percent}% of the {attributed} redemptions through shares.",
    "stats.cell": "{claims} claims · {redemptions} redeemed",
    "stats.cells": ({ n }) => `${n} ${plural(n, "place", "places")} on the map where codes were claimed`,
    "stats.withheld": " ({n} claims in places of fewer than 5 people not shown).",
    "stats.full-stop": ".",
    "stats.no-cells": "No place on the map yet: a place shows once 5 different people claimed there.",
    "stats.csv": "Export claims (CSV)",
    "stats.close": "Close",
    "stats.failed": "The statistics could not be loaded",
    "stats.position-failed": "The store's position could not be read",
    "stats.export-failed": "The export failed",
    "stats.exported": "The claims were exported.",

    // deep-link pages (deeplink.js)
    "deeplink.loading": "Loading…",
    "deeplink.not-a-store": "This link does not name a store: check that it was copied whole.",
    "deeplink.not-an-offer": "This link does not name an offer: check that it was copied whole.",
    "deeplink.no-store": "There is no store {id}: it may have been removed.",
    "deeplink.no-offer": "There is no offer {id}: it may have been removed.",
    "deeplink.store-failed": "The store could not be loaded.",
    "deeplink.offer-failed": "The offer could not be loaded.",
    "deeplink.loading-store": "Loading the store",
    "deeplink.loading-offer": "Loading the offer",
    "deeplink.store": "Store",
    "deeplink.status": "Status",
    "deeplink.codes-left": "Codes left",
    "deeplink.share-invalid": "This link's share code is not valid; a claim from here would not be attributed.",
    "deeplink.share-foreign": "This link's share code is not one of this offer's; a claim from here would not be attributed.",
    "deeplink.shared": "Shared with you (share {code}): a claim from here is credited to it.",
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
    "merchant.find-placeholder": "名称或门店编号",
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
    "cashier.offer-status": "优惠状态",

    "stores.none": "没有匹配的门店。",
    "stores.new": "新建门店",
    "stores.upload": "上传门店列表",
    "stores.cluster": "{n} 家门店",
    "stores.edit": "编辑门店",
    "stores.statistics": "门店统计",

    "storeform.new": "新建门店",
    "storeform.new-hint": "在地图上点击门店所在位置，或输入坐标。",
    "storeform.edit": "编辑 {name}",
    "storeform.edit-hint": "拖动标记或点击地图来移动门店。",
    "storeform.name": "名称",
    "storeform.number-placeholder": "例如 SH-0001",
    "storeform.category-placeholder": "例如 咖啡",
    "storeform.tags-placeholder": "无线网络; 户外",
    "storeform.timezone-placeholder": "按位置自动确定",
    "storeform.latitude": "纬度",
    "storeform.longitude": "经度",
    "storeform.save": "保存门店",
    "storeform.cancel": "取消",
    "storeform.position": "门店位置",
    "storeform.not-saved": "门店未保存",
    "storeform.no-position": "请在地图上点击门店位置，或输入纬度和经度",
    "storeform.saved": "已保存“{name}”，位置 {point}。",

    "upload.file": "文件",
    "upload.map": "列对应",
    "upload.map-placeholder": "lat=dataX, external_id=门店编号",
    "upload.set": "每行统一设置",
    "upload.set-placeholder": "category=茶饮, timezone=Asia/Shanghai",
    "upload.start": "上传",
    "upload.close": "关闭",
    "upload.row": "行",
    "upload.field": "字段",
    "upload.problem": "问题",
    "upload.errors-csv": "下载全部被拒绝的行（errors.csv）",
    "upload.counts": "{status}：已读取 {total} 行，拒绝 {failed} 行",
    "upload.stored": "，保存 {ok} 家（新增 {inserted}，更新 {updated}）",
    "upload.failed": "门店列表未导入",
    "upload.done": "已导入 {file}：保存 {ok} 家门店，拒绝 {failed} 行。",
    "upload.the-list": "该列表",
    "upload.csv-failed": "未能获取 errors.csv",
    "import.uploading": "上传中",
    "import.queued": "排队中",
    "import.running": "导入中",

    "offeredit.heading": "编辑优惠",
    "offeredit.edit": "编辑",
    "offeredit.end-now": "立即结束",
    "offeredit.print-qr": "打印二维码",
    "offeredit.save": "保存修改",
    "offeredit.saved": "已保存“{title}”。",
    "offeredit.not-changed": "优惠未修改",
    "offeredit.confirm-end": "立即结束“{title}”？已领取的优惠码仍可核销。",
    "offeredit.ended": "已结束“{title}”；已领取的 {n} 张优惠码仍可核销。",
    "offeredit.not-ended": "未能结束该优惠",

    "stats.heading": "统计：",
    "stats.range": "时间范围",
    "stats.days": "{n} 天",
    "stats.by": "粒度",
    "stats.by-day": "按天",
    "stats.by-hour": "按小时（最多 31 天）",
    "stats.numbers": "图表数据",
    "stats.from": "起始时间",
    "stats.claims": "领取",
    "stats.redemptions": "核销",
    "stats.rate": "核销率",
    "stats.users": "用户",
    "stats.shares": "分享",
    "stats.range-text": "{from} – {to}（{timezone}，{bucket}）",
    "stats.bucket.day": "按天",
    "stats.bucket.hour": "按小时",
    "stats.sharers": "分享达人",
    "stats.no-sharers": "此时间范围内没有通过分享的领取。",
    "stats.top": "前 80%",
    "stats.sharer": "本人 {claims} 次领取 · {redemptions} 次核销 · 链条 {chainClaims} 次领取 · {chainRedemptions} 次核销 · 层级 {depth}",
    "stats.kol": "{of} 位分享者中的 {sharers} 位带来了通过分享的 {attributed} 次核销中的 {percent}%。",
    "stats.cell": "{claims} 次领取 · {redemptions} 次核销",
    "stats.cells": "地图上有 {n} 处领取过优惠码的地点",
    "stats.withheld": "（不足 5 人的地点的 {n} 次领取未显示）。",
    "stats.full-stop": "。",
    "stats.no-cells": "地图上还没有地点：一个地点要有 5 个不同的人领取后才会显示。",
    "stats.csv": "导出领取记录（CSV）",
    "stats.close": "关闭",
    "stats.failed": "未能加载统计",
    "stats.position-failed": "未能读取门店位置",
    "stats.export-failed": "导出失败",
    "stats.exported": "领取记录已导出。",

    "deeplink.loading": "加载中……",
    "deeplink.not-a-store": "此链接没有指向任何门店：请检查链接是否复制完整。",
    "deeplink.not-an-offer": "此链接没有指向任何优惠：请检查链接是否复制完整。",
    "deeplink.no-store": "门店 {id} 不存在：可能已被删除。",
    "deeplink.no-offer": "优惠 {id} 不存在：可能已被删除。",
    "deeplink.store-failed": "未能加载该门店。",
    "deeplink.offer-failed": "未能加载该优惠。",
    "deeplink.loading-store": "加载门店",
    "deeplink.loading-offer": "加载优惠",
    "deeplink.store": "门店",
    "deeplink.status": "状态",
    "deeplink.codes-left": "剩余数量",
    "deeplink.share-invalid": "此链接的分享码无效，从这里领取将不计入分享。",
    "deeplink.share-foreign": "此链接的分享码不属于该优惠，从这里领取将不计入分享。",
    "deeplink.shared": "来自分享（分享码 {code}）：从这里领取会计入该分享。",
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
