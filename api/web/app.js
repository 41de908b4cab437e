// The imgsearchd web page: search by text or by an image, a grid of results
// that grows as you scroll, a viewer with "find similar", and a status bar
// that follows the indexing. Plain JavaScript, no build step, and no request
// to any host but the one that served the page.
//
// The URL holds the query (?q=TEXT, ?similar=ID, ?image=KEY for an image
// chosen in this visit) and the open result (&view=ID), so a search can be
// shared and the back button walks through searches and closes the viewer.
// Ids are strings everywhere: they are 63-bit integers, which JavaScript
// numbers would round.
'use strict';

(() => {
  const PAGE_SIZE = 30;
  const THUMBNAIL_SIZE = 256;
  const STATUS_POLL_BUSY_MS = 2000;  // while the service indexes or files wait
  const STATUS_POLL_IDLE_MS = 5000;
  const STATUS_POLL_DOWN_MS = 5000;  // while the service does not answer
  const TOKEN_KEY = 'imgsearchd.token';

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $('search-form'), q: $('q'), pick: $('pick-image'), file: $('image-file'),
    status: $('status'), statusText: $('status-text'), statusMore: $('status-more'),
    rescan: $('rescan'), rescanResult: $('rescan-result'),
    error: $('error'), errorText: $('error-text'), errorClose: $('error-close'),
    tokenForm: $('token-form'), token: $('token'),
    intro: $('intro'), summary: $('summary'), summaryImage: $('summary-image'),
    summaryTitle: $('summary-title'), summaryDetail: $('summary-detail'),
    results: $('results'), more: $('more'), loadMore: $('load-more'), loading: $('loading'), end: $('end'),
    viewer: $('viewer'), viewerTitle: $('viewer-title'), viewerPosition: $('viewer-position'),
    viewerClose: $('viewer-close'), viewerPrev: $('viewer-prev'), viewerNext: $('viewer-next'),
    viewerImage: $('viewer-image'), viewerElsewhere: $('viewer-elsewhere'), viewerFacts: $('viewer-facts'),
    findSimilar: $('find-similar'), openOriginal: $('open-original'),
    dropOverlay: $('drop-overlay'),
  };

  // What is on screen: the query, the results loaded so far, where the next
  // page starts (null at the end), and the result open in the viewer.
  const current = {
    query: null,     // {kind: 'text', text} | {kind: 'similar', id} | {kind: 'image', key}
    results: [],
    ids: new Set(),
    next: null,
    loading: false,
    search: null,    // AbortController of the search in flight
    viewIndex: -1,   // index into results, or -1 for an image not among them
    viewId: null,
  };
  // Images chosen in this visit, by the key the URL carries: a File cannot
  // live in a URL (nor reliably in history.state).
  const uploads = new Map();
  let uploadCount = 0;

  // ---- talking to the API ----------------------------------------------

  class ApiError extends Error {
    constructor(status, type, message) {
      super(message);
      this.status = status;
      this.type = type;
    }
  }

  function token() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
  }

  // fetch() with the token when one is set; an answer that is not 2xx
  // becomes an ApiError carrying the API's own message.
  async function api(path, options = {}) {
    const headers = new Headers(options.headers || {});
    if (token()) headers.set('Authorization', 'Bearer ' + token());
    let response;
    try {
      response = await fetch(path, { ...options, headers });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw new ApiError(0, 'unreachable',
        'The imgsearchd service does not answer. Is it still running? (' + error.message + ')');
    }
    if (response.ok) return response;
    let type = 'http_error';
    let message = 'The service answered ' + response.status + ' ' + response.statusText + '.';
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) {
        message = body.error.message;
        type = body.error.type || type;
      }
    } catch { /* not JSON: keep the status line */ }
    throw new ApiError(response.status, type, message);
  }

  async function apiJson(path, options) {
    return (await api(path, options)).json();
  }

  const enc = encodeURIComponent;
  const thumbnailUrl = (id, size = THUMBNAIL_SIZE) => `/api/images/${enc(id)}/thumbnail?size=${size}`;
  const fileUrl = (id) => `/api/images/${enc(id)}/file`;

  // An <img> cannot send an Authorization header: with a token, images come
  // through fetch() as blob: URLs.
  const blobUrls = new WeakMap();
  function setImage(img, url, hiDpiUrl) {
    const old = blobUrls.get(img);
    if (old) { URL.revokeObjectURL(old); blobUrls.delete(img); }
    if (!token()) {
      if (hiDpiUrl) img.srcset = `${url} 1x, ${hiDpiUrl} 2x`; else img.removeAttribute('srcset');
      img.src = url;
      return;
    }
    img.removeAttribute('srcset');
    img.removeAttribute('src');
    api(url).then((response) => response.blob()).then((blob) => {
      const objectUrl = URL.createObjectURL(blob);
      blobUrls.set(img, objectUrl);
      img.src = objectUrl;
    }).catch(() => img.classList.add('broken'));
  }

  function fetchPage(query, offset, signal) {
    const paging = `k=${PAGE_SIZE}&offset=${offset}`;
    if (query.kind === 'text') return apiJson(`/api/search?q=${enc(query.text)}&${paging}`, { signal });
    if (query.kind === 'similar') return apiJson(`/api/images/${enc(query.id)}/similar?${paging}`, { signal });
    // A form, not the raw bytes: the file's name then appears in the
    // service's messages ("the upload 'notes.txt' is not an image ...").
    const file = uploads.get(query.key);
    const form = new FormData();
    form.append('image', file, file.name || 'pasted image');
    return apiJson(`/api/search/image?${paging}`, { method: 'POST', body: form, signal });
  }

  // ---- the URL -----------------------------------------------------------

  function queryFromUrl(params) {
    const text = params.get('q');
    if (text !== null && text.trim() !== '') return { kind: 'text', text };
    const similar = params.get('similar');
    if (similar) return { kind: 'similar', id: similar };
    const key = params.get('image');
    if (key) return { kind: 'image', key };
    return null;
  }

  function urlOf(query, viewId) {
    const params = new URLSearchParams();
    if (query && query.kind === 'text') params.set('q', query.text);
    if (query && query.kind === 'similar') params.set('similar', query.id);
    if (query && query.kind === 'image') params.set('image', query.key);
    if (viewId) params.set('view', viewId);
    const search = params.toString();
    return location.pathname + (search ? '?' + search : '');
  }

  function sameQuery(a, b) {
    if (!a || !b) return a === b;
    return a.kind === b.kind && a.text === b.text && a.id === b.id && a.key === b.key;
  }

  // A new entry in the history (a new search, opening a result), then the
  // page made to match it.
  function go(query, viewId = null, { replace = false } = {}) {
    const url = urlOf(query, viewId);
    // history.state.viewer: this entry opened the viewer, so closing it is "back".
    if (replace) history.replaceState(history.state, '', url);
    else history.pushState({ viewer: Boolean(viewId) }, '', url);
    return applyUrl();
  }

  // Makes the page show what the URL says: on load, after go(), and when
  // the back or forward button is used.
  async function applyUrl({ force = false } = {}) {
    const params = new URLSearchParams(location.search);
    const query = queryFromUrl(params);
    if (force || !sameQuery(query, current.query)) await startSearch(query);
    const viewId = params.get('view');
    if (viewId) await openViewer(viewId);
    else closeViewerQuietly();
  }

  // ---- searching and the grid --------------------------------------------

  async function startSearch(query) {
    if (current.search) current.search.abort();
    current.query = query;
    current.results = [];
    current.ids = new Set();
    current.next = null;
    current.loading = false;
    el.results.replaceChildren();
    window.scrollTo(0, 0);
    hideError();
    showSummary(query);
    el.q.value = query && query.kind === 'text' ? query.text : '';
    document.title = query && query.kind === 'text' ? `${query.text} – imgsearchd` : 'imgsearchd';
    if (!query) return updateMore();
    if (query.kind === 'image' && !uploads.has(query.key)) {
      el.summaryTitle.textContent = 'Search by an image';
      el.summaryDetail.textContent =
        'That image was chosen in an earlier visit and is not kept. Drop it here again, paste it, or use “Search by image”.';
      return updateMore();
    }
    current.next = 0;
    await loadMore();
  }

  async function loadMore() {
    if (current.loading || current.next === null || !current.query) return;
    const query = current.query;
    const controller = new AbortController();
    current.search = controller;
    current.loading = true;
    updateMore();
    let loaded = false;
    try {
      const page = await fetchPage(query, current.next, controller.signal);
      if (controller.signal.aborted || query !== current.query) return;
      const first = current.results.length;
      for (const result of page.results) {
        if (current.ids.has(result.id)) continue;  // the index changed between pages
        current.ids.add(result.id);
        current.results.push(result);
      }
      current.next = page.next_offset;
      appendCards(first);
      describeResults(page);
      loaded = true;
    } catch (error) {
      if (error.name === 'AbortError' || query !== current.query) return;
      if (error.status === 413 && query.kind === 'image') {
        error.message += `; this image is ${formatBytes(uploads.get(query.key).size)}`;
      }
      const failed = query.kind === 'image' ? 'The image search failed' : 'The search failed';
      showError(error, failed);
      if (current.results.length === 0) {
        // Not "no results": nothing was searched. The message stays here
        // once the error box is dismissed.
        el.summaryDetail.textContent = `${failed}: ${error.message}`;
        current.next = null;  // the same request would fail the same way; later pages keep the retry button
      }
    } finally {
      if (query === current.query) {
        current.loading = false;
        current.search = null;
        updateMore();
      }
    }
    // A page that did not fill the screen: the observer will not fire again
    // by itself, since the end of the grid never left the screen.
    if (loaded && query === current.query && current.next !== null && endOfGridNear()) loadMore();
  }

  const SCROLL_AHEAD_PX = 400;
  const endOfGridNear = () => el.more.getBoundingClientRect().top < innerHeight + SCROLL_AHEAD_PX;

  function fileName(path) {
    const slash = path.lastIndexOf('/');
    return slash >= 0 ? path.slice(slash + 1) : path;
  }
  function folderOf(path) {
    const slash = path.lastIndexOf('/');
    return slash > 0 ? path.slice(0, slash + 1) : '';
  }
  const formatScore = (score) => (typeof score === 'number' ? score.toFixed(3) : '');

  function appendCards(first) {
    const cards = document.createDocumentFragment();
    for (let i = first; i < current.results.length; ++i) cards.append(card(current.results[i], i));
    el.results.append(cards);
  }

  // "On nas": the card's stand-in for the thumbnail of a picture another
  // service holds.
  function elsewhereNote(result) {
    const note = document.createElement('span');
    note.className = 'elsewhere-note';
    const where = document.createElement('strong');
    where.textContent = 'On ' + result.source;
    const why = document.createElement('span');
    why.textContent = 'shown by that service';
    note.append(where, why);
    return note;
  }

  function card(result, index) {
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.className = 'card';
    link.href = urlOf(current.query, result.id);
    link.dataset.index = String(index);
    link.dataset.id = result.id;
    link.title = result.path;
    const frame = document.createElement('span');
    frame.className = 'thumb';
    if (result.source) {
      // Another service holds it (a shared catalogue): only that service
      // serves its thumbnail, so say where it is instead of a broken image.
      frame.classList.add('elsewhere');
      frame.append(elsewhereNote(result));
    } else {
      const img = document.createElement('img');
      img.alt = fileName(result.path);
      img.loading = 'lazy';
      img.decoding = 'async';
      img.width = THUMBNAIL_SIZE;
      img.height = THUMBNAIL_SIZE;
      setImage(img, thumbnailUrl(result.id), thumbnailUrl(result.id, THUMBNAIL_SIZE * 2));
      frame.append(img);
    }
    const caption = document.createElement('span');
    caption.className = 'caption';
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = formatScore(result.score);
    score.title = 'similarity (cosine)';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = fileName(result.path);
    const folder = document.createElement('span');
    folder.className = 'folder';
    // Another service's path without its "nas:" (the card says where it is).
    folder.textContent = folderOf(result.source ? result.path.slice(result.source.length + 1) : result.path);
    caption.append(score, name, folder);
    link.append(frame, caption);
    link.addEventListener('click', (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      go(current.query, result.id);
    });
    item.append(link);
    return item;
  }

  function showSummary(query) {
    el.intro.hidden = Boolean(query);
    el.summary.hidden = !query;
    el.summaryImage.hidden = true;
    if (!query) return;
    el.summaryDetail.textContent = 'Searching…';
    if (query.kind === 'text') {
      el.summaryTitle.textContent = `Pictures of “${query.text}”`;
    } else if (query.kind === 'similar') {
      el.summaryTitle.textContent = 'Pictures like this one';
      el.summaryImage.hidden = false;
      el.summaryImage.alt = 'the picture searched for';
      setImage(el.summaryImage, thumbnailUrl(query.id, 128));
      api(`/api/images/${enc(query.id)}`).then((response) => response.json()).then((image) => {
        if (query === current.query) el.summaryTitle.textContent = `Pictures like ${fileName(image.path)}`;
      }).catch(() => {});
    } else if (uploads.has(query.key)) {
      const file = uploads.get(query.key);
      el.summaryTitle.textContent = `Pictures like ${file.name || 'the pasted image'}`;
      el.summaryImage.hidden = false;
      el.summaryImage.alt = 'the image searched for';
      setLocalImage(el.summaryImage, file);
    }
  }

  function setLocalImage(img, file) {
    const old = blobUrls.get(img);
    if (old) URL.revokeObjectURL(old);
    const objectUrl = URL.createObjectURL(file);
    blobUrls.set(img, objectUrl);
    img.removeAttribute('srcset');
    img.src = objectUrl;
  }

  function describeResults(page) {
    const count = current.results.length;
    const took = typeof page.took_ms !== 'number' ? ''
      : ` · ${page.took_ms < 10 ? page.took_ms.toFixed(1) : Math.round(page.took_ms)} ms`;
    if (count === 0) {
      el.summaryDetail.textContent = 'No pictures found. If the index is still empty, the status bar above shows its progress.';
    } else {
      const more = current.next === null ? '' : ', more as you scroll';
      el.summaryDetail.textContent = `${count} ${count === 1 ? 'picture' : 'pictures'}, best first${more}${took}`;
    }
  }

  function updateMore() {
    const hasMore = current.query !== null && current.next !== null;
    el.loading.hidden = !current.loading;
    el.loadMore.hidden = !hasMore || current.loading;
    el.end.hidden = !(current.query && current.next === null && current.results.length > 0 && !current.loading);
  }

  // Infinite scroll: the next page comes when the end of the grid nears the
  // screen; the button does the same for the keyboard.
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadMore();
  }, { rootMargin: `${SCROLL_AHEAD_PX}px 0px` }).observe(el.more);
  el.loadMore.addEventListener('click', () => loadMore());

  // ---- search by image: chooser, drop, paste -----------------------------

  function searchByImageFile(file) {
    if (!file) return;
    const key = 'u' + (++uploadCount) + '-' + Math.random().toString(36).slice(2, 8);
    uploads.set(key, file);
    go({ kind: 'image', key });
  }

  el.pick.addEventListener('click', () => el.file.click());
  el.file.addEventListener('change', () => {
    const file = el.file.files && el.file.files[0];
    el.file.value = '';  // choosing the same file again searches again
    searchByImageFile(file);
  });

  const carriesFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes('Files');
  let dragDepth = 0;
  document.addEventListener('dragenter', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    el.dropOverlay.hidden = false;
  });
  document.addEventListener('dragover', (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('dragleave', (event) => {
    if (!carriesFiles(event)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) el.dropOverlay.hidden = true;
  });
  document.addEventListener('drop', (event) => {
    if (!event.dataTransfer) return;
    event.preventDefault();
    dragDepth = 0;
    el.dropOverlay.hidden = true;
    const file = event.dataTransfer.files && event.dataTransfer.files[0];
    if (file) {
      searchByImageFile(file);
    } else {
      showError(new ApiError(0, 'invalid_request',
        'Drop an image file from your computer; a link or a picture from another page cannot be searched.'),
        'Nothing to search');
    }
  });

  document.addEventListener('paste', (event) => {
    const items = event.clipboardData ? Array.from(event.clipboardData.files || []) : [];
    const image = items.find((file) => file.type.startsWith('image/'));
    if (!image) return;  // text goes where it was pasted
    event.preventDefault();
    searchByImageFile(image);
  });

  // ---- text search ---------------------------------------------------------

  el.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = el.q.value.trim();
    const query = text ? { kind: 'text', text } : null;
    if (sameQuery(query, current.query)) {
      history.replaceState(history.state, '', urlOf(query, null));
      applyUrl({ force: true });  // the same search again: fresh results
    } else {
      go(query);
    }
    el.q.blur();
  });

  document.addEventListener('keydown', (event) => {
    if (event.key !== '/' || el.viewer.open) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
    event.preventDefault();
    el.q.focus();
    el.q.select();
  });

  // ---- the viewer ------------------------------------------------------------

  let openedFrom = null;  // the card to give the focus back to

  async function openViewer(id) {
    const index = current.results.findIndex((result) => result.id === id);
    current.viewIndex = index;
    current.viewId = id;
    const known = index >= 0 ? current.results[index] : null;
    if (!el.viewer.open) {
      openedFrom = document.activeElement;
      el.viewer.showModal();
    }
    el.viewerImage.alt = known ? fileName(known.path) : 'the picture';
    const elsewhere = Boolean(known && known.source);
    el.viewerImage.hidden = elsewhere;
    el.viewerElsewhere.hidden = !elsewhere;
    delete el.openOriginal.dataset.elsewhere;
    el.openOriginal.hidden = false;
    if (elsewhere) {
      // Held by another service: its file is there only. Its address, when
      // it gives one, is where "Open original" goes.
      el.viewerImage.removeAttribute('srcset');
      el.viewerImage.removeAttribute('src');
      el.viewerElsewhere.replaceChildren();
      const head = document.createElement('strong');
      head.textContent = `This picture is on ${known.source}`;
      el.viewerElsewhere.append(head, document.createTextNode(known.holder_url
        ? `Only that service shows it. “Open original” asks ${known.source} for it.`
        : `Only that service shows it, and it gives no address to reach it.`));
      el.openOriginal.hidden = !known.holder_url;
      if (known.holder_url) {
        el.openOriginal.href = known.holder_url;
        el.openOriginal.dataset.elsewhere = 'true';
      }
    } else {
      // The thumbnail the grid already has first, the full picture when it came.
      setImage(el.viewerImage, thumbnailUrl(id));
      const full = new Image();
      full.onload = () => { if (current.viewId === id && !token()) el.viewerImage.src = full.src; };
      if (!token()) full.src = fileUrl(id); else setImage(el.viewerImage, fileUrl(id));
      el.openOriginal.href = fileUrl(id);
    }
    el.viewerPrev.disabled = index <= 0;
    el.viewerNext.disabled = index < 0 || (index === current.results.length - 1 && current.next === null);
    el.viewerPosition.textContent = index >= 0 ? `${index + 1} of ${current.results.length}${current.next === null ? '' : '+'}` : '';
    showFacts(known, null);
    el.viewerTitle.textContent = known ? fileName(known.path) : 'Picture ' + id;
    if (elsewhere) return;  // its metadata too is the other service's
    try {
      const image = await apiJson(`/api/images/${enc(id)}`);
      if (current.viewId !== id) return;
      el.viewerTitle.textContent = fileName(image.path);
      el.viewerImage.alt = fileName(image.path);
      showFacts(known, image);
    } catch (error) {
      if (current.viewId !== id) return;
      if (!known) el.viewerTitle.textContent = 'This picture cannot be shown';
      fact(el.viewerFacts, 'Problem', error.message);
    }
  }

  function formatBytes(bytes) {
    if (typeof bytes !== 'number') return '';
    if (bytes < 1024) return bytes + ' bytes';
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(0) + ' KB';
    return (bytes / 1024 / 1024).toFixed(1) + ' MB';
  }

  function fact(list, term, value) {
    if (value === undefined || value === null || value === '') return;
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    if (Array.isArray(value)) {
      for (const line of value) {
        const span = document.createElement('span');
        span.className = 'path';
        span.textContent = line;
        dd.append(span);
      }
    } else {
      dd.textContent = value;
    }
    list.append(dt, dd);
  }

  function showFacts(result, image) {
    const info = image || result || {};
    el.viewerFacts.replaceChildren();
    if (result) fact(el.viewerFacts, 'Score', formatScore(result.score));
    if (result && result.source) fact(el.viewerFacts, 'Held by', result.source);
    const size = info.width && info.height ? `${info.width} × ${info.height}` : '';
    fact(el.viewerFacts, 'Size', [size, formatBytes(info.bytes), image && image.format ? image.format.toUpperCase() : '']
      .filter(Boolean).join(' · '));
    if (image && image.mtime) fact(el.viewerFacts, 'Modified', new Date(image.mtime).toLocaleString());
    const paths = info.paths || (info.path ? [info.path] : []);
    fact(el.viewerFacts, paths.length > 1 ? `Files (${paths.length})` : 'File', paths.length ? paths : undefined);
  }

  // Closes the viewer without touching the history (the URL already says so).
  function closeViewerQuietly() {
    current.viewId = null;
    current.viewIndex = -1;
    if (!el.viewer.open) return;
    el.viewer.close();
    restoreFocus();
  }
  function restoreFocus() {
    if (openedFrom && document.contains(openedFrom)) openedFrom.focus();
  }

  // The user closed it (Escape, the close button, a click beside the
  // picture): back to the entry that opened it, or the same URL without it.
  el.viewer.addEventListener('close', () => {
    if (current.viewId === null) return;
    current.viewId = null;
    current.viewIndex = -1;
    if (history.state && history.state.viewer) history.back();
    else history.replaceState({ viewer: false }, '', urlOf(current.query, null));
    restoreFocus();
  });
  el.viewerClose.addEventListener('click', () => el.viewer.close());
  el.viewer.addEventListener('click', (event) => {
    if (event.target === el.viewer) el.viewer.close();  // the backdrop
  });

  async function step(delta) {
    if (current.viewIndex < 0) return;
    let index = current.viewIndex + delta;
    if (index >= current.results.length && current.next !== null) await loadMore();
    if (index < 0 || index >= current.results.length) return;
    const id = current.results[index].id;
    history.replaceState(history.state, '', urlOf(current.query, id));
    openedFrom = el.results.querySelector(`a[data-index="${index}"]`) || openedFrom;
    await openViewer(id);
  }
  el.viewerPrev.addEventListener('click', () => step(-1));
  el.viewerNext.addEventListener('click', () => step(1));
  el.viewer.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowLeft') { event.preventDefault(); step(-1); }
    if (event.key === 'ArrowRight') { event.preventDefault(); step(1); }
  });
  // With a token the link alone would be refused: fetch the file and open it.
  el.openOriginal.addEventListener('click', (event) => {
    if (!token() || el.openOriginal.dataset.elsewhere) return;  // another service's file: its own link
    event.preventDefault();
    api(el.openOriginal.href).then((response) => response.blob())
      .then((blob) => window.open(URL.createObjectURL(blob), '_blank', 'noopener'))
      .catch((error) => showError(error, 'The file cannot be opened'));
  });
  el.findSimilar.addEventListener('click', () => {
    const id = current.viewId;
    if (!id) return;
    current.viewId = null;  // leaving the viewer by a new search, not by back
    el.viewer.close();
    openedFrom = null;
    go({ kind: 'similar', id });
    el.results.focus({ preventScroll: true });
  });

  // ---- errors --------------------------------------------------------------

  function showError(error, what) {
    el.errorText.replaceChildren();
    const head = document.createElement('strong');
    head.textContent = what + ': ';
    el.errorText.append(head, document.createTextNode(error.message || String(error)));
    el.tokenForm.hidden = error.status !== 401;
    el.error.hidden = false;
  }
  function hideError() {
    el.error.hidden = true;
    el.tokenForm.hidden = true;
  }
  el.errorClose.addEventListener('click', hideError);
  el.tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    try { localStorage.setItem(TOKEN_KEY, el.token.value.trim()); } catch { /* private mode: this visit only */ }
    el.token.value = '';
    hideError();
    applyUrl({ force: true });
    pollStatus();
  });

  // ---- the status bar ------------------------------------------------------

  // GET /api/status as the service writes it (daemon/service/service_status_json.cpp;
  // README, "HTTP API"): the catalogue's counts, the changes waiting, the run
  // in flight, the model, the roots and their watchers, the failed files.
  function readStatus(status) {
    const count = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
    const run = status.run && typeof status.run === 'object' ? status.run : null;
    // A model given as a weights file: its name is enough here.
    const model = typeof status.model === 'string' ? status.model.split('/').pop() : undefined;
    return {
      state: typeof status.state === 'string' ? status.state : 'unknown',
      indexed: count(status.files_ok),
      failed: count(status.files_failed),
      pending: count(status.pending_paths),
      runDone: run ? count(run.done) : undefined,
      runTotal: run ? count(run.total) : undefined,
      rate: run ? count(run.rate) : undefined,
      eta: run ? count(run.eta_seconds) : undefined,
      model,
      modelLoaded: status.model_loaded !== false,
      modelProblem: typeof status.model_problem === 'string' ? status.model_problem : '',
      device: typeof status.device === 'string' ? status.device : '',
      error: typeof status.error === 'string' ? status.error : '',
      roots: Array.isArray(status.roots) ? status.roots : [],
      failures: Array.isArray(status.failures) ? status.failures : [],
    };
  }

  function formatDuration(seconds) {
    if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  }

  const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

  // What the service is doing, in words. "watching" with changes waiting is
  // about to index them.
  const STATE_WORDS = {
    starting: 'Starting', reconciling: 'Checking the folders', indexing: 'Indexing', stopping: 'Stopping',
    stopped: 'Stopped', failed: 'Indexing stopped',
  };
  function statusLine(s) {
    const word = STATE_WORDS[s.state] || (s.pending ? 'Indexing' : s.state === 'watching' ? 'Up to date' : capitalise(s.state));
    const busy = word !== 'Up to date';
    const parts = [word];
    if (s.indexed !== undefined) parts.push(plural(s.indexed, 'image indexed', 'images indexed'));
    if (s.pending) parts.push(`${s.pending.toLocaleString()} waiting`);
    if (s.runTotal) parts.push(`${s.runDone.toLocaleString()} of ${s.runTotal.toLocaleString()} in this run`);
    if (s.failed) parts.push(plural(s.failed, 'file failed', 'files failed'));
    if (s.rate) parts.push(`${s.rate.toFixed(1)} files/s`);
    if (s.eta) parts.push(`about ${formatDuration(s.eta)} left`);
    if (!s.modelLoaded) parts.push(s.modelProblem || 'no model yet');
    else if (s.model) parts.push(`model ${s.model}${s.device ? ' on ' + s.device : ''}`);
    if (s.state === 'failed' && s.error) parts.push(s.error);
    return { text: parts.join(' · '), busy, problem: s.state === 'failed' || !s.modelLoaded };
  }
  const capitalise = (text) => text.charAt(0).toUpperCase() + text.slice(1);

  function statusDetails(s) {
    const box = document.createDocumentFragment();
    if (s.roots.length) {
      const title = document.createElement('h2');
      title.textContent = 'Folders';
      const list = document.createElement('ul');
      for (const root of s.roots) {
        const item = document.createElement('li');
        const watcher = root.watcher === 'inotify+poll' ? 'watched (some folders polled: the inotify watch limit)'
          : root.watcher === 'poll' ? 'polled' : root.watcher === 'offline' ? 'offline' : 'watched';
        item.textContent = `${root.path || ''} — ${watcher}${root.problem ? ': ' + root.problem : ''}`;
        list.append(item);
      }
      box.append(title, list);
    }
    if (s.failures.length) {
      const title = document.createElement('h2');
      title.textContent = s.failed > s.failures.length
        ? `Files that failed (the first ${s.failures.length} of ${s.failed.toLocaleString()})` : 'Files that failed';
      const list = document.createElement('ul');
      for (const failure of s.failures.slice(0, 20)) {
        const item = document.createElement('li');
        const path = document.createElement('span');
        path.className = 'path';
        path.textContent = failure.path || '';
        // Reasons usually name the file already ("/a/b.jpg: not an image ...").
        let reason = failure.reason || '';
        if (failure.path && reason.startsWith(failure.path)) reason = reason.slice(failure.path.length).replace(/^:\s*/, '');
        item.append(path, document.createTextNode(reason ? ': ' + reason : ''));
        list.append(item);
      }
      box.append(title, list);
    }
    if (!box.childNodes.length) {
      const none = document.createElement('p');
      none.textContent = 'No folder or failure to show.';
      box.append(none);
    }
    return box;
  }

  let lastStatusText = '';
  let statusTimer = 0;
  async function pollStatus() {
    clearTimeout(statusTimer);
    let delay = STATUS_POLL_IDLE_MS;
    try {
      const s = readStatus(await apiJson('/api/status'));
      const line = statusLine(s);
      setStatus(line.problem ? 'problem' : line.busy ? 'busy' : 'idle', line.text);
      el.statusMore.replaceChildren(statusDetails(s));
      if (line.busy) delay = STATUS_POLL_BUSY_MS;
    } catch (error) {
      setStatus(error.status === 0 ? 'down' : 'problem', error.message);
      if (error.status === 401 && el.tokenForm.hidden) showError(error, 'This service needs its access token');
      delay = STATUS_POLL_DOWN_MS;
    }
    if (!document.hidden) statusTimer = setTimeout(pollStatus, delay);
  }
  function setStatus(state, text) {
    el.status.dataset.state = state;
    if (text !== lastStatusText) {  // the live region speaks only on change
      el.statusText.textContent = text;
      lastStatusText = text;
    }
  }
  // "Rescan folders": a reconcile of every root (POST /api/rescan), said
  // back in words; the status line then follows it.
  el.rescan.addEventListener('click', async () => {
    el.rescan.disabled = true;
    el.rescanResult.textContent = 'Asking the service to rescan…';
    try {
      const answer = await apiJson('/api/rescan', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
      });
      const roots = Array.isArray(answer.roots) ? answer.roots : [];
      el.rescanResult.textContent = roots.length
        ? `Rescanning ${plural(roots.length, 'folder', 'folders')}: ${roots.join(', ')}. Only what changed is read again.`
        : 'There is no folder to rescan: list folders under indexer.roots in the configuration.';
      pollStatus();
    } catch (error) {
      el.rescanResult.textContent = 'The rescan was refused: ' + error.message;
    } finally {
      el.rescan.disabled = false;
    }
  });

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) pollStatus(); else clearTimeout(statusTimer);
  });

  // A query image that cannot be shown (not an image at all) is left out.
  el.summaryImage.addEventListener('error', () => { el.summaryImage.hidden = true; });

  // ---- start ------------------------------------------------------------------

  history.scrollRestoration = 'manual';  // the results come after the restore would happen
  window.addEventListener('popstate', () => applyUrl());
  if (!history.state) history.replaceState({ viewer: false }, '', location.href);
  pollStatus();
  applyUrl();
})();
