// The search page: plain JavaScript, no build step. Talks only to this server's JSON API.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { info: null, objectUrls: [], playing: null };

// hits whose probability is below this are folded under "N unlikely", after the likely ones
const LIKELY_PROBABILITY = 0.01;
// about how many characters of what a picture says a card shows, around the query's first word
const SAYS_CHARS = 90;
const LIKELY_PERCENT = `${LIKELY_PROBABILITY * 100} %`;
const WHY = { shows: "shows it", says: "says it", both: "shows and says it" };

// -- helpers --------------------------------------------------------------------------------------

async function api(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.message ? body.message : `the server answered ${response.status}`;
    const error = new Error(message);
    error.code = body && body.error;
    throw error;
  }
  return body;
}

function setStatus(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle("error", isError);
}

function percent(p) {
  if (p >= 0.999) return "≥99.9 %";
  if (p < 0.001) return "<0.1 %";
  return `${(p * 100).toFixed(p < 0.1 || p >= 0.995 ? 1 : 0)} %`; // 99.6 %, never a rounded 100 %
}

// a time in a video as people read it: m:ss, h:mm:ss past an hour (as the CLI writes it)
function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const [hours, minutes, secs] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  const two = (value) => String(value).padStart(2, "0");
  return hours ? `${hours}:${two(minutes)}:${two(secs)}` : `${minutes}:${two(secs)}`;
}

// a moment's span, "0:42-0:51" (the end rounded up, so a span under a second still reads as one)
function spanText(moment) {
  if (moment.end === null || moment.end === undefined) return clock(moment.start);
  return `${clock(moment.start)}-${clock(Math.ceil(moment.end))}`;
}

function isMoment(hit) {
  return hit.start !== null && hit.start !== undefined;
}

function localUrl(file) {
  const url = URL.createObjectURL(file);
  state.objectUrls.push(url);
  while (state.objectUrls.length > 4) URL.revokeObjectURL(state.objectUrls.shift());
  return url;
}

function k() {
  return $("#k").value;
}

function isImageFile(file) {
  return file && (file.type.startsWith("image/") || /\.(jpe?g|jfif|png|gif|webp|avif|bmp|tiff?|heic|heif|hif)$/i.test(file.name));
}

function element(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

// a card of a stored picture (a search hit, a file of a duplicate group): its id and name in data
// attributes, its thumbnail first
function pictureCard(tag, className, picture) {
  const card = element(tag, className);
  card.dataset.id = picture.id;
  card.dataset.name = picture.name || "";
  const img = element("img");
  img.loading = "lazy";
  img.alt = picture.name || picture.id;
  if (picture.thumbnail_url) img.src = picture.thumbnail_url;
  card.append(img);
  return card;
}

// the line under a thumbnail: a score or badge (with its explanation), then a rank or size
function metaLine(scoreText, scoreTitle, rankText) {
  const meta = element("div", "meta");
  const score = element("span", "score", scoreText);
  score.title = scoreTitle;
  meta.append(score, element("span", "rank", rankText));
  return meta;
}

// -- results --------------------------------------------------------------------------------------

// a regular expression finding any of the query's words (as the picture writes them), any case
function wordsPattern(words) {
  const parts = (words || [])
    .filter((word) => word.trim())
    .map((word) => word.trim().split(/\s+/).map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\s+"))
    .sort((a, b) => b.length - a.length);
  return parts.length ? new RegExp(parts.join("|"), "giu") : null;
}

// about SAYS_CHARS characters of the words, around the first of the query's words found there
function excerpt(says, pattern) {
  const text = says.split(/\s+/).filter(Boolean).join(" ");
  if (text.length <= SAYS_CHARS) return text;
  let begin = 0;
  let end = 0;
  if (pattern) {
    pattern.lastIndex = 0;
    const found = pattern.exec(text);
    if (found) [begin, end] = [found.index, found.index + found[0].length];
  }
  let start = Math.max(0, Math.min(begin - Math.floor((SAYS_CHARS - (end - begin)) / 2), text.length - SAYS_CHARS));
  let stop = Math.max(start + SAYS_CHARS, end);
  if (start > 0 && text[start - 1] !== " ") {
    const space = text.indexOf(" ", start);
    if (space >= 0 && space < begin) start = space + 1;
  }
  if (stop < text.length && text[stop] !== " ") {
    const space = text.lastIndexOf(" ", stop);
    if (space > Math.max(end, start)) stop = space;
  }
  return `${start > 0 ? "…" : ""}${text.slice(start, stop).trim()}${stop < text.length ? "…" : ""}`;
}

// what a picture says, its words matching the query in <mark> (text nodes only, no markup parsing)
function saysLine(hit) {
  const pattern = wordsPattern(hit.words);
  const text = excerpt(hit.says, pattern);
  const line = element("div", "says");
  line.title = hit.says;
  let last = 0;
  if (pattern) {
    pattern.lastIndex = 0;
    for (const found of text.matchAll(pattern)) {
      line.append(document.createTextNode(text.slice(last, found.index)), element("mark", "", found[0]));
      last = found.index + found[0].length;
    }
  }
  line.append(document.createTextNode(text.slice(last)));
  return line;
}

// "p. 3" (and the label the PDF prints, when it differs), "fig. 1" for a figure on it
function pageText(hit) {
  if (hit.page === null || hit.page === undefined) return "";
  const label = hit.page_label && hit.page_label !== String(hit.page) ? ` (${hit.page_label})` : "";
  const figure = hit.metadata && hit.metadata.part === "figure" ? ` · fig. ${hit.metadata.figure}` : "";
  return `p. ${hit.page}${label}${figure}`;
}

function hitItem(hit) {
  const card = pictureCard("button", "card", hit);
  card.type = "button";
  card.title = `Find pictures similar to ${hit.name || hit.id}`;

  const probability = hit.probability !== null && hit.probability !== undefined;
  const fill = element("span");
  fill.style.width = `${Math.round((probability ? hit.probability : Math.max(0, hit.similarity)) * 100)}%`;
  const bar = element("div", "bar");
  bar.append(fill);
  const meta = probability
    ? metaLine(percent(hit.probability), "SigLIP probability that the picture matches the query", `#${hit.rank}`)
    : metaLine(`cos ${hit.similarity.toFixed(3)}`, "Cosine similarity to the query image", `#${hit.rank}`);

  const name = element("div", "name", hit.name || hit.id);
  const page = pageText(hit);
  if (page) name.textContent += ` · ${page}`;
  const copies = hit.metadata && Array.isArray(hit.metadata.duplicates) ? hit.metadata.duplicates.length : 0;
  if (copies) {
    name.textContent += ` (+${copies === 1 ? "1 copy" : `${copies} copies`})`;
    name.title = "Copies of this picture, left out of the results";
  }

  card.append(bar, meta, name);
  if (hit.matched) {
    const why = element("div", "why", WHY[hit.matched] || hit.matched);
    why.title = "Why it matched: what the picture shows, what it says (its words), or both";
    card.append(why);
  }
  if (hit.says) card.append(saysLine(hit));
  const item = element("li");
  item.append(card);
  if (isMoment(hit)) {
    momentCard(card, name, hit);
    return item;
  }
  card.addEventListener("click", () => similarToStored(hit));
  if (page) card.classList.add("document");
  if (page && hit.file_url) {
    const link = element("a", "file-link", `Open the PDF at p. ${hit.page}`);
    link.href = hit.file_url; // the PDF, with #page=N: viewers open it there
    link.target = "_blank";
    link.rel = "noopener";
    item.append(link);
  }
  return item;
}

// a video's moment: its frame, its span over it and after the name, and a click that plays it
function momentCard(card, name, hit) {
  const span = spanText(hit);
  card.classList.add("moment");
  card.dataset.start = String(hit.start);
  card.title = `Play ${hit.name || hit.id} from ${clock(hit.start)}`;
  const badge = element("span", "span", `▶ ${span}`);
  card.querySelector("img").after(badge);
  name.textContent = `${hit.name || hit.id} · ${span}`;
  const others = (hit.moments || []).length;
  if (others) name.textContent += ` (+${others} ${others === 1 ? "moment" : "moments"})`;
  name.title = name.textContent;
  card.addEventListener("click", () => playMoment(hit));
}

// -- the video player -----------------------------------------------------------------------------

// play a moment's video from its start to its end (the file's URL ends with #t=start,end; play
// goes on past the end once it has stopped there), its other moments in the results listed
// beside it in time order: a click plays that one
function playMoment(hit) {
  state.playing = hit;
  const moments = [hit, ...(hit.moments || [])].sort((a, b) => a.start - b.start);
  $("#player-moments").replaceChildren(...moments.map((moment) => momentItem(moment, moment === hit)));
  playSpan(hit);
  $("#player").hidden = false;
  $("#player").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function momentItem(moment, current) {
  const button = element("button", "moment-link", spanText(moment));
  button.type = "button";
  button.dataset.start = String(moment.start);
  button.setAttribute("aria-current", String(current));
  const probability = moment.probability !== null && moment.probability !== undefined;
  const score = probability ? percent(moment.probability) : `cos ${moment.similarity.toFixed(3)}`;
  button.title = `Play from ${clock(moment.start)}`;
  button.addEventListener("click", () => {
    for (const other of $("#player-moments").querySelectorAll("button")) {
      other.setAttribute("aria-current", String(other === button));
    }
    playSpan(moment);
  });
  const item = element("li");
  item.append(button, element("span", "muted small", score));
  return item;
}

// the video from a moment's start, stopping at its end: the media fragment #t=start,end (set anew
// for each moment, so that the end of the one played before does not stop this one)
function playSpan(moment) {
  const video = $("#player-video");
  $("#player-title").textContent = `${state.playing.name || state.playing.id} · ${spanText(moment)}`;
  const file = state.playing.file_url.split("#")[0];
  const end = moment.end === null || moment.end === undefined ? "" : `,${moment.end}`;
  video.src = moment.file_url || `${file}#t=${moment.start}${end}`; // a hit's own file_url has it
  video.play().catch(() => {}); // a browser that refuses to start it still shows it at the moment
}

function closePlayer() {
  const video = $("#player-video");
  video.pause();
  video.removeAttribute("src");
  video.load(); // lets the file go
  $("#player").hidden = true;
  state.playing = null;
}

// the likely hits first; those below LIKELY_PROBABILITY folded under "N unlikely"
function renderHits(data) {
  const likely = data.hits.filter((hit) => hit.probability === null || hit.probability === undefined || hit.probability >= LIKELY_PROBABILITY);
  const unlikely = data.hits.filter((hit) => !likely.includes(hit));
  if (state.playing) closePlayer();
  $("#results").replaceChildren(...likely.map(hitItem));
  $("#unlikely-results").replaceChildren(...unlikely.map(hitItem));
  const fold = $("#unlikely");
  fold.hidden = unlikely.length === 0;
  fold.open = false;
  $("#unlikely-count").textContent = `${unlikely.length} unlikely`;
  $("#unlikely-note").textContent = `(probability under ${LIKELY_PERCENT})`;
  return { likely: likely.length, unlikely: unlikely.length };
}

function showQueryCard(src, label) {
  const card = $("#query-card");
  if (!src) {
    card.hidden = true;
    return;
  }
  $("#query-thumb").src = src;
  $("#query-label").textContent = label;
  card.hidden = false;
}

function describe(data, what, shown) {
  if (!data.hits.length) {
    return data.score_kind === "cosine" ? "No similar pictures." : "No picture matches this query.";
  }
  if (!shown.unlikely) return `${plural(data.hits.length, "picture")} ${what}`;
  if (!shown.likely) {
    return `No picture is likely to match (none reaches ${LIKELY_PERCENT}): ${shown.unlikely} unlikely ${what}, folded below.`;
  }
  return `${shown.likely} likely ${shown.likely === 1 ? "picture" : "pictures"} ${what}; ${shown.unlikely} unlikely (under ${LIKELY_PERCENT}) folded below.`;
}

// -- searches -------------------------------------------------------------------------------------

// k and the search form's two checkboxes, as the query parameters every search route takes
function searchParams(extra = {}) {
  const params = new URLSearchParams({ ...extra, k: k() });
  if ($("#diverse").checked) params.set("diverse", "true");
  if ($("#collapse-duplicates").checked) params.set("collapse_duplicates", "true");
  return params;
}

async function searchText(query, push = true) {
  const status = $("#status");
  showQueryCard(null);
  setStatus(status, "Searching…");
  try {
    const params = searchParams({ q: query });
    const data = await api(`api/search?${params}`);
    const shown = renderHits(data);
    const order = params.has("diverse") ? "relevant and varied" : "most probable first";
    setStatus(status, describe(data, `for “${query}”, ${order}`, shown));
    if (push) history.pushState({ q: query }, "", `?${new URLSearchParams({ q: query })}`);
  } catch (error) {
    renderHits({ hits: [] });
    setStatus(status, error.message, true);
  }
}

async function similarToStored(hit) {
  const status = $("#status");
  setStatus(status, "Finding similar pictures…");
  try {
    const params = searchParams();
    const data = await api(`api/images/${encodeURIComponent(hit.id)}/similar?${params}`);
    showQueryCard(hit.thumbnail_url, hit.name || hit.id);
    const shown = renderHits(data);
    const order = params.has("diverse") ? "relevant and varied" : "most similar first";
    setStatus(status, describe(data, `similar to the one you clicked, ${order}`, shown));
    window.scrollTo({ top: 0, behavior: "smooth" });
  } catch (error) {
    setStatus(status, error.message, true);
  }
}

async function similarToFile(file) {
  const status = $("#status");
  if (!isImageFile(file)) {
    setStatus(status, "That is not an image file.", true);
    return;
  }
  selectTab("search");
  setStatus(status, `Searching by ${file.name}…`);
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const params = searchParams();
    const data = await api(`api/similar?${params}`, { method: "POST", body: form });
    showQueryCard(localUrl(file), file.name);
    const shown = renderHits(data);
    const order = params.has("diverse") ? "relevant and varied" : "most similar first";
    setStatus(status, describe(data, `similar to ${file.name}, ${order}`, shown));
  } catch (error) {
    setStatus(status, error.message, true);
  }
}

// -- zero-shot ------------------------------------------------------------------------------------

let classifyFile = null;

function setClassifyFile(file) {
  if (!isImageFile(file)) {
    setStatus($("#classify-status"), "That is not an image file.", true);
    return;
  }
  classifyFile = file;
  const preview = $("#classify-preview");
  preview.src = localUrl(file);
  preview.hidden = false;
  $("#classify-drop-text").textContent = file.name;
  setStatus($("#classify-status"), "");
}

async function classify(event) {
  event.preventDefault();
  const status = $("#classify-status");
  if (!classifyFile) {
    setStatus(status, "Choose or drop an image first.", true);
    return;
  }
  const form = new FormData();
  form.append("image", classifyFile, classifyFile.name);
  // the API takes one label per field: the box's commas and line breaks separate labels
  for (const label of $("#labels").value.split(/[,\n]/)) {
    if (label.trim()) form.append("labels", label.trim());
  }
  const template = $("#template").value.trim();
  if (template) form.append("template", template);
  setStatus(status, "Classifying…");
  try {
    const data = await api("api/classify", { method: "POST", body: form });
    const list = $("#classify-results");
    list.replaceChildren();
    for (const [index, entry] of data.labels.entries()) {
      const row = element("li", index === 0 ? "top" : "");
      const track = element("span", "track");
      const fill = element("span", "fill");
      fill.style.display = "block";
      fill.style.width = `${Math.round(entry.probability * 100)}%`;
      track.append(fill);
      row.append(element("span", "label", entry.label), track, element("span", "value", percent(entry.probability)));
      list.append(row);
    }
    const kind = data.score_kind === "sigmoid" ? "independent probabilities" : "softmax over these labels";
    setStatus(status, `${data.image}: most likely “${data.top}” (${kind})`);
  } catch (error) {
    setStatus(status, error.message, true);
  }
}

// -- duplicates -----------------------------------------------------------------------------------

function bytes(size) {
  if (size === null || size === undefined) return "size unknown";
  const units = ["B", "kB", "MB", "GB"];
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function duplicateCard(file) {
  const card = pictureCard("div", file.keep ? "card dup keep" : "card dup", file);
  const meta = metaLine(
    file.keep ? "keep" : file.bits !== null ? `${file.bits} bits` : "similar",
    file.keep ? "The one to keep: the largest picture, then the oldest" : "Bits its fingerprint differs from the kept one",
    file.width && file.height ? `${file.width}×${file.height}` : "",
  );
  const name = element("div", "name", file.name || file.id);
  name.title = name.textContent;
  const date = file.date ? `${file.date.slice(0, 10)}${file.date_source === "taken" ? " (taken)" : ""}` : "no date";
  card.append(meta, name, element("div", "name facts", `${bytes(file.size)} · ${date}`));
  const item = element("li");
  item.append(card);
  return item;
}

function renderDuplicates(data) {
  const list = $("#duplicates-results");
  list.replaceChildren();
  const reasons = { identical: "same bytes", picture: "same picture", similar: "similar" };
  for (const group of data.groups) {
    const why = group.reasons.map((reason) => reasons[reason] || reason).join(", ");
    const title = `${group.files.length} files · ${why} · ${bytes(group.reclaimable_bytes)} in the others`;
    const files = element("ul", "grid");
    files.append(...group.files.map(duplicateCard));
    const item = element("li", "dup-group");
    item.append(element("div", "dup-title", title), files);
    list.append(item);
  }
}

async function findDuplicates(event) {
  if (event) event.preventDefault();
  const status = $("#duplicates-status");
  const params = new URLSearchParams({ max_bits: $("#max-bits").value || "12" });
  const similar = $("#similar").value.trim();
  if (similar) params.set("similar", similar);
  setStatus(status, "Looking for duplicates…");
  try {
    const data = await api(`api/duplicates?${params}`);
    renderDuplicates(data);
    const extra = data.groups.reduce((count, group) => count + group.files.length - 1, 0);
    const shown = data.total_groups > data.groups.length ? ` (the ${data.groups.length} with most bytes to reclaim shown)` : "";
    const text = data.groups.length
      ? `${plural(data.total_groups, "group")} among ${data.checked} pictures${shown}: ${plural(extra, "file")} beside the ones to keep. Nothing was deleted.`
      : `No duplicates among ${data.checked} pictures.`;
    setStatus(status, data.message ? `${text} ${data.message}` : text);
    state.duplicatesLoaded = true;
  } catch (error) {
    $("#duplicates-results").replaceChildren();
    setStatus(status, error.message, true);
  }
}

// -- tabs, drag and drop, start -------------------------------------------------------------------

function selectTab(name) {
  for (const tab of ["search", "classify", "duplicates"]) {
    const selected = tab === name;
    $(`#tab-${tab}`).setAttribute("aria-selected", String(selected));
    $(`#panel-${tab}`).hidden = !selected;
  }
}

function currentTab() {
  if (!$("#panel-classify").hidden) return "classify";
  return $("#panel-duplicates").hidden ? "search" : "duplicates";
}

function setupDragAndDrop() {
  const overlay = $("#drop-overlay");
  let depth = 0;
  const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
  window.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    if (currentTab() === "classify") $("#classify-drop").classList.add("active");
    else overlay.hidden = false;
  });
  window.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  window.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) {
      overlay.hidden = true;
      $("#classify-drop").classList.remove("active");
    }
  });
  window.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    overlay.hidden = true;
    $("#classify-drop").classList.remove("active");
    const file = event.dataTransfer.files[0];
    if (!file) return;
    if (currentTab() === "classify") setClassifyFile(file);
    else similarToFile(file);
  });
}

async function loadInfo() {
  try {
    const info = await api("api/info");
    state.info = info;
    const kind = info.score_kind === "sigmoid" ? "calibrated probabilities" : info.score_kind;
    const moments = info.video_moments ? ` (${plural(info.video_moments, "video moment")})` : "";
    $("#store-info").textContent = `${info.images} pictures${moments} · model ${info.model} · ${kind}`;
  } catch (error) {
    setStatus($("#store-info"), `Cannot reach the server: ${error.message}`, true);
  }
}

function runFromLocation() {
  const query = new URLSearchParams(location.search).get("q");
  if (query) {
    $("#query").value = query;
    searchText(query, false);
  }
}

function start() {
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = $("#query").value.trim();
    if (query) searchText(query);
  });
  $("#similar-file").addEventListener("change", (event) => {
    if (event.target.files[0]) similarToFile(event.target.files[0]);
    event.target.value = "";
  });
  $("#classify-file").addEventListener("change", (event) => {
    if (event.target.files[0]) setClassifyFile(event.target.files[0]);
  });
  $("#classify-form").addEventListener("submit", classify);
  $("#tab-search").addEventListener("click", () => selectTab("search"));
  $("#tab-classify").addEventListener("click", () => selectTab("classify"));
  $("#tab-duplicates").addEventListener("click", () => {
    selectTab("duplicates");
    if (!state.duplicatesLoaded) findDuplicates();
  });
  $("#duplicates-form").addEventListener("submit", findDuplicates);
  $("#player-close").addEventListener("click", closePlayer);
  $("#player-similar").addEventListener("click", () => similarToStored(state.playing));
  window.addEventListener("popstate", runFromLocation);
  setupDragAndDrop();
  loadInfo();
  runFromLocation();
}

start();
