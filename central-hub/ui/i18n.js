// Every word the console shows, Vietnamese first and English second (the toggle in the header
// picks one). Data, not code: a caption is added here once and used by key.
/* exported t, name, LANG, setLang, translateReason, onLang */
const STRINGS = {
  title: ['Mắt Thần — Trung tâm', 'Mắt Thần — Centre'],
  tab_search: ['Tìm kiếm', 'Search'],
  tab_junctions: ['Nút giao', 'Junctions'],
  tab_watch: ['Theo dõi & truy vết', 'Watch & trace'],
  tab_cases: ['Vụ việc (video ghi sẵn)', 'Cases (recorded video)'],
  case_new: ['Mở vụ việc mới', 'Open a case'],
  case_name: ['Tên vụ việc', 'Case name'],
  case_recorded: ['Quay lúc', 'Filmed at'],
  case_folder: ['Thư mục trên máy chủ', 'Folder on the hub'],
  case_urls: ['Đường dẫn video (mỗi dòng một)', 'Video URLs (one per line)'],
  case_open: ['Mở vụ việc', 'Open case'],
  case_opened: ['Đã mở vụ việc với {0} video', 'Case opened with {0} videos'],
  case_add_files: ['Thêm video từ máy này', 'Add videos from this computer'],
  case_failed: ['lỗi', 'failed'],
  no_cases: ['Chưa có vụ việc nào', 'No cases yet'],
  uploading: ['Đang tải lên', 'Uploading'],
  uploaded: ['Đã tải lên {0} tệp', '{0} files uploaded'],
  col_videos: ['Video xong', 'Videos done'],
  col_hours: ['Giờ video đã xử lý', 'Hours analysed'],
  col_rate: ['Tốc độ (× thời gian thực)', 'Rate (× real time)'],
  col_eta: ['Còn lại', 'Time left'],
  col_file: ['Tệp', 'File'],
  col_progress: ['Tiến độ', 'Progress'],
  col_length: ['Độ dài', 'Length'],
  col_events: ['Sự kiện', 'Events'],
  col_reason: ['Lý do lỗi', 'Why it failed'],
  job_queued: ['đang chờ', 'queued'],
  job_running: ['đang xử lý', 'analysing'],
  job_done: ['xong', 'done'],
  job_failed: ['lỗi', 'failed'],
  recording: ['Video gốc', 'Source video'],
  play_at: ['Mở video tại thời điểm này', 'Play the video from this moment'],
  logout: ['Đăng xuất', 'Log out'],
  lang_toggle: ['English', 'Tiếng Việt'],
  lang_toggle_label: ['Chuyển sang tiếng Anh', 'Switch to Vietnamese'],
  token_label: ['Nhập mã truy cập', 'Enter your access token'],
  login: ['Đăng nhập', 'Log in'],
  login_wrong: ['Mã truy cập không đúng hoặc đã hết hạn', 'Wrong or expired token'],
  login_locked: ['Quá nhiều lần đăng nhập sai, vui lòng đợi', 'Too many failed attempts, please wait'],
  token_invalid: ['Mã truy cập không hợp lệ', 'Invalid token'],
  q_placeholder: ['vd: xe máy màu đỏ 8-9h · xe tải đỗ trái phép tối qua', 'e.g. red motorbike near Ben Thanh 8pm · man in white shirt'],
  search: ['Tìm', 'Search'],
  filters: ['Bộ lọc', 'Filters'],
  f_class: ['Loại xe', 'Class'],
  f_kind: ['Sự kiện', 'Kind'],
  f_plate: ['Biển số', 'Plate'],
  f_from: ['Từ', 'From'],
  f_to: ['Đến', 'To'],
  f_sort: ['Sắp xếp', 'Sort'],
  all: ['tất cả', 'all'],
  relevance: ['liên quan', 'relevance'],
  newest: ['mới nhất', 'newest'],
  more: ['Tải thêm', 'Load more'],
  no_results: ['Không có kết quả', 'No results'],
  understood: ['Hiểu là', 'Understood'],
  nothing_understood: ['Không hiểu câu tìm kiếm', 'Nothing understood'],
  u_class: ['loại', 'class'],
  u_color: ['màu', 'colour'],
  u_top: ['áo', 'top'],
  u_bottom: ['quần', 'bottom'],
  u_plate_start: ['biển số bắt đầu', 'plate starts with'],
  u_plate_contains: ['biển số chứa', 'plate contains'],
  u_direction: ['hướng', 'direction'],
  u_violation: ['vi phạm', 'violation'],
  u_alert: ['cảnh báo', 'alert'],
  u_place: ['nơi', 'place'],
  u_heading: ['đi về hướng', 'heading'],
  u_time: ['thời gian', 'time'],
  u_clock: ['giờ (mọi ngày)', 'clock (every day)'],
  u_could_be: ['có thể là', 'could be'],
  u_not_understood: ['không hiểu', 'not understood'],
  dir_in: ['vào', 'in'],
  dir_out: ['ra', 'out'],
  timeline: ['Dòng thời gian theo camera', 'Review timeline per camera'],
  timeline_range: ['Khoảng thời gian', 'Time span'],
  last_hours: ['{0} giờ qua', 'last {0} h'],
  timeline_hint: ['Mỗi vạch là một sự kiện; bấm để mở.', 'Each mark is an event; click to open.'],
  timeline_load: ['Xem dòng thời gian', 'Show timeline'],
  signature: ['Chữ ký', 'Signature'],
  sig_unsigned: ['Chưa ký', 'Not signed'],
  sig_verified: ['Đã xác thực chữ ký', 'Signature verified'],
  sig_untrusted_key: ['Chữ ký đúng nhưng khoá chưa được tin cậy', 'Valid, key not trusted'],
  sig_incomplete: ['Chưa nhận đủ bằng chứng', 'Evidence incomplete'],
  sig_invalid: ['CHỮ KÝ KHÔNG HỢP LỆ', 'SIGNATURE INVALID'],
  sig_covers: ['Chữ ký bao gồm', 'The signature covers'],
  on_hold: ['Đang lưu giữ theo hồ sơ', 'On legal hold'],
  snapshot: ['Ảnh chụp đối tượng', 'Snapshot'],
  plate_read: ['Biển số đọc được', 'Plate as read'],
  evidence: ['Bằng chứng', 'Evidence'],
  not_received: ['chưa nhận', 'not received'],
  none: ['không có', 'none'],
  export: ['Xuất hồ sơ (.zip)', 'Export (.zip)'],
  exported: ['Đã xuất', 'Exported'],
  trace_this: ['Truy vết biển số này', 'Trace this plate'],
  candidates_this: ['Có thể là xe này ở camera lân cận', 'Possible sightings nearby'],
  raw: ['Dữ liệu gốc (JSON)', 'Raw event (JSON)'],
  close: ['Đóng', 'Close'],
  zoom_in: ['Phóng to', 'Zoom in'],
  zoom_out: ['Thu nhỏ', 'Zoom out'],
  zoom_hint: ['Bấm ảnh để phóng to', 'Click an image to zoom'],
  k_kind: ['Loại sự kiện', 'Kind'],
  k_time: ['Thời điểm', 'Time'],
  k_where: ['Địa điểm · camera', 'Site · camera'],
  k_object: ['Đối tượng', 'Object'],
  k_colour: ['Màu', 'Colour'],
  k_clothes: ['Áo · quần', 'Top · bottom'],
  k_plate: ['Biển số', 'Plate'],
  k_line_zone: ['Vạch · vùng', 'Line · zone'],
  k_direction: ['Hướng', 'Direction'],
  k_rule: ['Quy tắc', 'Rule'],
  v_red: ['Pha {0}: vượt vạch {1} s sau khi đèn đỏ (vàng {2} s, ân hạn {3} s)', 'Phase {0}: crossed {1} s into red (yellow {2} s, grace {3} s)'],
  v_speed: ['Tốc độ {0} km/h, giới hạn {1} (+{2}), hiệu chuẩn {3}', 'Speed {0} km/h, limit {1} (+{2}), calibration {3}'],
  v_dwell: ['Dừng {0} s', 'Stopped {0} s'],
  v_against: ['Ngược chiều {0} m', '{0} m against the flow'],
  v_classifier: ['Phân loại: {0}, {1}/{2} khung hình', 'Classifier: {0}, {1}/{2} frames'],
  latest_counts: ['Trạng thái nút giao và camera', 'Junctions and cameras now'],
  city_map: ['Bản đồ tổng quan', 'City overview'],
  map_none: ['Chưa cấu hình vị trí camera ([[cameras]] lat/lon)', 'No camera positions configured ([[cameras]] lat/lon)'],
  map_legend: ['Xanh: thông thoáng · Vàng: đông · Đỏ: quá tải hoặc cảnh báo · Xám: không có dữ liệu', 'Green: free · Amber: busy · Red: oversaturated or warned · Grey: no data'],
  col_id: ['Camera / nút giao', 'Camera / junction'],
  col_state: ['Trạng thái', 'State'],
  col_interval: ['Khoảng', 'Interval'],
  col_counts: ['Đếm (vào/ra)', 'Counts (in/out)'],
  col_plan: ['Phương án đèn', 'Signal plan'],
  col_charts: ['24 giờ', '24 h'],
  charts: ['Biểu đồ', 'Charts'],
  refreshed: ['Tự cập nhật mỗi 30 s; lần cuối', 'Refreshes every 30 s; last'],
  in_force: ['Đang chạy', 'In force'],
  recommended: ['Khuyến nghị', 'Recommended'],
  unknown_plan: ['chưa biết phương án đang chạy', 'plan in force unknown'],
  cycle: ['Chu kỳ', 'Cycle'],
  delay: ['trễ TB {0} → {1} s/xe', 'mean delay {0} → {1} s/vehicle'],
  oversaturated: ['quá tải', 'oversaturated'],
  decisions: ['Bộ điều khiển hỏi trực tiếp: {0} quyết định pha xanh', 'Live control: {0} green decisions for the controller'],
  d_at: ['Lúc', 'At'],
  d_phase: ['Pha', 'Phase'],
  d_green: ['Xanh', 'Green'],
  d_status: ['Trạng thái', 'Status'],
  d_inputs: ['Dựa trên (hàng chờ, lưu lượng)', 'Based on (queue, flow)'],
  d_sent: ['đã gửi', 'sent'],
  d_late: ['quá hạn, không gửi (chạy phương án riêng)', 'too late, not sent (own plan ran)'],
  d_input: ['{0}: chờ {1} PCU, {2} PCU/h', '{0}: queue {1} PCU, {2} PCU/h'],
  warning: ['Cảnh báo ùn tắc: hướng {0} sau {1} phút, mức bão hoà {2}', 'Congestion warning: approach {0} in {1} min, degree of saturation {2}'],
  ch_counts: ['{0}: lượt qua vạch theo loại xe', '{0}: crossings per class'],
  ch_flow: ['{0}: lưu lượng theo hướng (PCU/h)', '{0}: flow per approach (PCU/h)'],
  ch_queue: ['{0}: hàng chờ theo hướng (xe)', '{0}: queue per approach (vehicles)'],
  ch_cycle: ['{0}: chu kỳ khuyến nghị và đang chạy (s)', '{0}: cycle recommended and in force (s)'],
  ch_forecast: ['{0}: dự báo 5/10/15 phút so với thực tế (PCU/h)', '{0}: 5/10/15-minute forecasts against what happened (PCU/h)'],
  s_actual: ['{0} thực tế', '{0} actual'],
  s_forecast: ['{0} dự báo {1} phút', '{0} forecast {1} min'],
  s_recommended: ['khuyến nghị', 'recommended'],
  s_in_force: ['đang chạy', 'in force'],
  ch_movements: ['{0}: lượt rẽ theo hướng, mỗi 15 phút', '{0}: turning movements per 15 minutes'],
  tm_title: ['{0}: lưu lượng rẽ (24 giờ)', '{0}: turning-movement counts (24 h)'],
  col_movement: ['Hướng đi (vào → ra)', 'Movement (in → out)'],
  col_vehicles: ['Số xe', 'Vehicles'],
  col_mean_kmh: ['Tốc độ TB (km/h)', 'Mean speed (km/h)'],
  col_p85_kmh: ['Tốc độ V85 (km/h)', '85th pct speed (km/h)'],
  peak_hour: ['Giờ cao điểm từ {0}: {1} xe, hệ số giờ cao điểm (PHF) {2}', 'Peak hour from {0}: {1} vehicles, peak-hour factor {2}'],
  peak_partial: ['(dữ liệu chưa đủ một giờ)', '(less than an hour of data)'],
  csv: ['Tải CSV', 'Download CSV'],
  no_history: ['Chưa có dữ liệu 24 giờ', 'No data in the last 24 h'],
  trace_title: ['Truy vết biển số', 'Trace a plate'],
  trace: ['Truy vết', 'Trace'],
  col_time: ['Thời gian', 'Time'],
  col_camera: ['Camera', 'Camera'],
  col_plate_read: ['Biển đọc được', 'Plate read'],
  col_match: ['Khớp', 'Match'],
  col_hop: ['Từ camera trước', 'From the previous camera'],
  not_seen: ['Không thấy', 'Not seen'],
  impossible: ['KHÔNG THỂ', 'IMPOSSIBLE'],
  no_candidates: ['Không có ứng viên', 'No candidates'],
  candidate: ['ứng viên', 'candidate'],
  match_exact: ['chính xác', 'exact'],
  match_partial: ['một phần', 'partial'],
  'match_look-alike': ['ký tự dễ nhầm', 'OCR look-alike'],
  watch_title: ['Danh sách theo dõi', 'Watch list'],
  watch_plate: ['Biển số', 'Plate'],
  watch_reason: ['Lý do', 'Reason'],
  watch_days: ['Số ngày', 'Days'],
  add: ['Thêm', 'Add'],
  remove: ['Bỏ', 'Remove'],
  col_added_by: ['Người thêm', 'Added by'],
  col_expires: ['Hết hạn', 'Expires'],
  col_listed: ['Biển theo dõi', 'Listed plate'],
  hits_title: ['Phát hiện', 'Hits'],
  hit_banner: ['PHÁT HIỆN: {0} tại {1} {2} — {3}', 'HIT: {0} at {1} {2} — {3}'],
  look_alike: ['ký tự dễ nhầm', 'look-alike'],
  http_400: ['Yêu cầu không hợp lệ', 'Bad request'],
  http_403: ['Vai trò của bạn không được phép', 'Your role may not do this'],
  http_404: ['Không tìm thấy', 'Not found'],
  http_429: ['Quá nhiều yêu cầu, vui lòng đợi', 'Too many requests, please wait'],
  http_500: ['Lỗi máy chủ', 'Server error'],
  role_operator: ['điều tra viên', 'operator'],
  role_traffic: ['trung tâm giao thông', 'traffic centre'],
  role_admin: ['quản trị', 'administrator'],
};

// Names of things the edge reports (classes, colours, rules, kinds), in both languages.
const NAMES = {
  class: { motorcycle: ['xe máy', 'motorbike'], car: ['ô tô', 'car'], truck: ['xe tải', 'truck'], bus: ['xe buýt', 'bus'], bicycle: ['xe đạp', 'bicycle'], person: ['người', 'person'] },
  color: { red: ['đỏ', 'red'], white: ['trắng', 'white'], black: ['đen', 'black'], blue: ['xanh dương', 'blue'], green: ['xanh lá', 'green'], yellow: ['vàng', 'yellow'], grey: ['xám', 'grey'], silver: ['bạc', 'silver'], orange: ['cam', 'orange'], brown: ['nâu', 'brown'], pink: ['hồng', 'pink'], purple: ['tím', 'purple'] },
  rule: { red_light: ['vượt đèn đỏ', 'red-light running'], wrong_way: ['đi ngược chiều', 'wrong way'], forbidden_zone: ['đi vào khu vực cấm', 'forbidden zone'], illegal_parking: ['dừng, đỗ trái phép', 'illegal parking'], speeding: ['quá tốc độ', 'speeding'], no_helmet: ['không đội mũ bảo hiểm', 'no helmet'], too_many_riders: ['chở quá số người', 'too many riders'],
    loitering: ['lảng vảng', 'loitering'], crowding: ['tụ tập đông người', 'crowding'], intrusion: ['xâm nhập', 'intrusion'], abandoned_object: ['vật bị bỏ lại', 'abandoned object'], running: ['chạy', 'running'], dispersal: ['giải tán đột ngột', 'sudden dispersal'], wrong_direction: ['đi sai hướng', 'wrong direction'], stopped_in_box: ['dừng trong ô cấm dừng', 'stopped in the box'] },
  kind: { track: ['đối tượng', 'object'], crossing: ['qua vạch', 'line crossing'], zone: ['vùng', 'zone'], violation: ['vi phạm', 'violation'], alert: ['cảnh báo', 'alert'], counts: ['đếm', 'counts'] },
  state: { online: ['hoạt động', 'online'], offline: ['mất kết nối', 'offline'], degraded: ['suy giảm', 'degraded'], starting: ['đang khởi động', 'starting'] },
};

// The hub's search reasons are English phrases; these turn their fixed words into Vietnamese
// (values such as class or colour names go through NAMES).
const REASONS_VI = [
  ['plate starts with ', 'biển số bắt đầu '], ['plate contains ', 'biển số chứa '], ['plate read ', 'biển đọc được '],
  ['violation ', 'vi phạm '], ['alert ', 'cảnh báo '], ['class ', 'loại '], ['camera ', 'camera '], ['place ', 'nơi '],
  ['heading ', 'hướng đi '], ['colour ', 'màu '], ['top ', 'áo '], ['bottom ', 'quần '], ['direction ', 'chiều '],
  ['time ', 'thời gian '], ['clock ', 'giờ '], ['similar to ', 'gần nghĩa với '], ['words ', 'có từ '],
];
const REASON_PARTS_VI = [[' (ranks; the plate decides)', ' (chỉ xếp hạng; biển số quyết định)'], [' (OCR look-alike)', ' (ký tự dễ nhầm)'], [' to ', ' đến ']];

let LANG = 'vi';
const hooks = [];
const idx = () => (LANG === 'vi' ? 0 : 1);

// t('key', a, b): the string in the current language with {0}, {1} filled in.
function t(key, ...args) {
  const s = STRINGS[key];
  const text = s ? s[idx()] : key;
  return text.replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)] ?? ''));
}
// name('class', 'motorcycle') → 'xe máy' or 'motorbike'; unknown values as they are.
function name(kind, v) {
  if (v == null || v === '') return v;
  const n = NAMES[kind] && NAMES[kind][v];
  return n ? n[idx()] : v;
}
function translateReason(r) {
  if (LANG !== 'vi') return r;
  let out = r;
  for (const [en, vi] of REASONS_VI) if (out.startsWith(en)) { out = vi + out.slice(en.length); break; }
  for (const [en, vi] of REASON_PARTS_VI) out = out.split(en).join(vi);
  return out.replace(/[a-z_]+/g, (w) => {
    for (const k of ['class', 'color', 'rule']) if (NAMES[k][w]) return NAMES[k][w][0];
    return w;
  });
}
// Fills every element marked data-i18n (text), data-i18n-ph (placeholder) or data-i18n-aria.
function applyStrings() {
  document.documentElement.lang = LANG;
  document.title = t('title');
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll('[data-i18n-ph]').forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  document.querySelectorAll('[data-i18n-aria]').forEach((el) => { el.setAttribute('aria-label', t(el.dataset.i18nAria)); });
}
// Views register a redraw so that switching language re-renders what is on screen.
function onLang(f) { hooks.push(f); }
function setLang(l) {
  LANG = l;
  applyStrings();
  for (const f of hooks) f();
}
applyStrings();
