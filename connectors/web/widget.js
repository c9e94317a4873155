/*
 * Parcours web chat widget: the hospital's patient assistant on its own website.
 *
 * Embed with one tag (no build step, no framework, nothing loaded from a CDN):
 *   <script src="https://hospital.example/parcours/widget.js"
 *           data-parcours-url="https://hospital.example/parcours" data-lang="fr" defer></script>
 *
 *   data-parcours-url  where the back office answers (default: where widget.js came from)
 *   data-lang          fr or en: labels until the conversation shows its language (default: the page's)
 *   data-open          "true" opens the chat when the page loads
 *
 * It talks to the back office over a websocket (/ws/chat), reconnects by itself and falls back to
 * HTTP (POST /api/chat, GET /api/conversations/web/{session}/history) while the socket is down.
 * The back office issues a signed session id (POST /api/web/sessions) that the browser keeps in
 * localStorage: the conversation survives reloads. When the back office refuses it (not its own,
 * or idle too long), the widget asks for a new one and starts a new conversation.
 * Message text is only ever inserted as text (never as HTML), so no message can inject markup.
 */
(function () {
  "use strict";

  if (window.ParcoursChat) return; // the tag was included twice

  var script = document.currentScript || document.querySelector("script[src*='widget.js']");
  var attr = function (name) { return (script && script.getAttribute(name)) || ""; };
  var baseUrl = new URL(
    (attr("data-parcours-url") || (script && script.src ? script.src.replace(/[^/]*$/, "") : "/")).replace(/\/*$/, "/"),
    document.baseURI
  );
  var wsUrl = new URL("ws/chat", baseUrl);
  wsUrl.protocol = baseUrl.protocol === "https:" ? "wss:" : "ws:";

  var LANGS = ["fr", "en"];
  var pageLang = (attr("data-lang") || document.documentElement.lang || "fr").slice(0, 2).toLowerCase();
  if (LANGS.indexOf(pageLang) < 0) pageLang = "fr";

  var LABELS = {
    fr: {
      launcher: "Une question ?",
      launcherFull: "Ouvrir l'assistant Parcours",
      unread: function (n) { return n === 1 ? "1 nouveau message" : n + " nouveaux messages"; },
      title: "Parcours",
      subtitle: "Assistant du patient",
      subtitleLong: " · réponses automatiques",
      offline: "Connexion en cours…",
      large: "Agrandir le texte",
      contrast: "Contraste élevé",
      close: "Fermer l'assistant",
      emergencyLead: "Urgence vitale :",
      emergencySms: "SMS",
      log: "Conversation avec Parcours",
      input: "Votre message",
      placeholder: "Écrivez votre question…",
      send: "Envoyer",
      typing: "Parcours écrit…",
      you: "Vous",
      bot: "Parcours",
      nurse: "Équipe soignante",
      system: "Information",
      quick: "Réponses proposées",
      disclaimer: "Parcours ne pose pas de diagnostic et ne remplace pas un avis médical. Ne partagez pas de données inutiles.",
      reconnecting: "Connexion interrompue : nouvelle tentative en cours. Vos messages restent envoyés.",
      sendFailed: "Votre message n'a pas pu être envoyé. Vérifiez votre connexion et réessayez. En cas d'urgence vitale, appelez le %samu% ou le %european%.",
      welcome: "Bonjour, je suis Parcours, l'assistant du patient de l'hôpital. Je réponds à vos questions pratiques (horaires, accès, visites, examens) et je peux vous orienter selon vos symptômes. Comment puis-je vous aider ?",
      starters: [
        "Quels sont les horaires d'un service ?",
        "Comment venir à l'hôpital ?",
        "Quelles sont les heures de visite ?",
        "Je ne me sens pas bien"
      ],
      call: "Appeler le {number}",
      urgentTitle: "Appelez immédiatement",
      goTitle: "Rendez-vous aux urgences",
      callTitle: "Appeler",
      phone: "Téléphone :",
      newMessage: "Nouveau message de {who} : ",
      pushed: "Message reçu"
    },
    en: {
      launcher: "Any questions?",
      launcherFull: "Open the Parcours assistant",
      unread: function (n) { return n === 1 ? "1 new message" : n + " new messages"; },
      title: "Parcours",
      subtitle: "Patient assistant",
      subtitleLong: " · automated answers",
      offline: "Connecting…",
      large: "Larger text",
      contrast: "High contrast",
      close: "Close the assistant",
      emergencyLead: "Life-threatening emergency:",
      emergencySms: "text",
      log: "Conversation with Parcours",
      input: "Your message",
      placeholder: "Type your question…",
      send: "Send",
      typing: "Parcours is typing…",
      you: "You",
      bot: "Parcours",
      nurse: "Care team",
      system: "Information",
      quick: "Suggested answers",
      disclaimer: "Parcours does not diagnose and does not replace medical advice. Do not share more personal data than needed.",
      reconnecting: "Connection lost: trying again. Your messages are still sent.",
      sendFailed: "Your message could not be sent. Check your connection and try again. In a life-threatening emergency, call %samu% or %european%.",
      welcome: "Hello, I'm Parcours, the hospital's patient assistant. I answer practical questions (opening hours, directions, visits, exams) and can tell you where to go for your symptoms. How can I help?",
      starters: [
        "What are a department's opening hours?",
        "How do I get to the hospital?",
        "What are the visiting hours?",
        "I don't feel well"
      ],
      call: "Call {number}",
      urgentTitle: "Call now",
      goTitle: "Go to the emergency department",
      callTitle: "Call",
      phone: "Phone:",
      newMessage: "New message from {who}: ",
      pushed: "Message received"
    }
  };

  var ICONS = {
    chat: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.9A8 8 0 1 1 21 12z"/><path d="M12 8.5v7M8.5 12h7"/></svg>',
    cross: '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M9 3h6v6h6v6h-6v6H9v-6H3V9h6z"/></svg>',
    close: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" aria-hidden="true" focusable="false"><path d="M6 6l12 12M18 6L6 18"/></svg>',
    contrast: '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2"/><path fill="currentColor" d="M12 3a9 9 0 0 1 0 18z"/></svg>',
    send: '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false"><path d="M4 12l16-8-6 16-2.5-6.5z"/><path d="M11.5 13.5L20 4"/></svg>',
    phone: '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true" focusable="false"><path d="M6.6 10.8a15.2 15.2 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.46.57 3.6a1 1 0 0 1-.25 1z"/></svg>'
  };

  // --- Storage (private browsing may refuse it: the widget then works for this page only) ----

  var memory = {};
  function store(kind) {
    try {
      var s = window[kind];
      var probe = "parcours:probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (e) {
      return {
        getItem: function (k) { return Object.prototype.hasOwnProperty.call(memory, k) ? memory[k] : null; },
        setItem: function (k, v) { memory[k] = String(v); },
        removeItem: function (k) { delete memory[k]; }
      };
    }
  }
  var local = store("localStorage");
  var tab = store("sessionStorage");
  var KEY = "parcours:" + baseUrl.host + baseUrl.pathname; // one session per back office
  var SESSION_RE = /^[A-Za-z0-9_-]{16,64}$/;

  var minting = null; // the request for a new session, shared by everything waiting for one

  function storedSession() {
    var id = local.getItem(KEY + ":session");
    return id && SESSION_RE.test(id) ? id : null;
  }

  // The session comes from the back office, which signs it: an id made up here would be refused.
  function ensureSession() {
    var id = storedSession();
    if (id) return Promise.resolve(id);
    if (!minting) {
      minting = fetch(new URL("api/web/sessions", baseUrl).href, {
        method: "POST", headers: { Accept: "application/json" }
      }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      }).then(function (body) {
        var current = storedSession(); // another tab got one meanwhile: one conversation per browser
        if (current) return current;
        if (!body || !SESSION_RE.test(String(body.session || ""))) throw new Error("no session");
        local.setItem(KEY + ":session", body.session);
        return body.session;
      });
      minting.then(function () { minting = null; }, function () { minting = null; });
    }
    return minting;
  }

  function loadPrefs() {
    try { return JSON.parse(local.getItem(KEY + ":prefs") || "{}") || {}; } catch (e) { return {}; }
  }
  var prefs = loadPrefs();
  function savePrefs() { local.setItem(KEY + ":prefs", JSON.stringify(prefs)); }

  // --- State -------------------------------------------------------------------------------

  var state = {
    lang: pageLang,
    open: false,
    started: local.getItem(KEY + ":started") === "1", // this browser has chatted before
    socket: null,
    socketOpen: false,
    attempts: 0,
    reconnectTimer: null,
    pingTimer: null,
    pollTimer: null,
    typingTimer: null,
    unread: 0,
    historyKey: null,
    pending: 0,
    connecting: false,
    unacked: []
  };

  // --- DOM ---------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "text") node.textContent = value;
        else if (name === "html") node.innerHTML = value; // only for the static icons above
        else if (name === "class") node.className = value;
        else node.setAttribute(name, value === true ? "" : value);
      });
    }
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  var host = el("div", { id: "parcours-chat" });
  var shadow = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var root = el("div", { class: "root" });
  root.style.visibility = "hidden"; // until the stylesheet is there
  var stylesheet = el("link", { rel: "stylesheet", href: new URL("widget.css", baseUrl).href });
  var showRoot = function () { root.style.visibility = ""; };
  stylesheet.addEventListener("load", showRoot);
  stylesheet.addEventListener("error", showRoot);
  setTimeout(showRoot, 3000);

  var ids = { panel: "parcours-panel", title: "parcours-title", input: "parcours-input", log: "parcours-log" };

  var launcherLabel = el("span", { class: "label" });
  var badge = el("span", { class: "badge", hidden: true, "aria-hidden": "true" });
  var launcher = el("button", {
    type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": ids.panel
  }, [el("span", { class: "icon", html: ICONS.chat }), launcherLabel, badge]);

  var title = el("h2", { class: "title", id: ids.title });
  var subtitleText = el("span", { class: "text" });
  var subtitleLong = el("span", { class: "long" });
  var subtitle = el("p", { class: "subtitle" }, [el("span", { class: "dot", "aria-hidden": "true" }), subtitleText, subtitleLong]);
  var largeButton = el("button", { type: "button", class: "tool", "aria-pressed": "false" },
    [el("span", { "aria-hidden": "true", text: "A+" })]);
  var contrastButton = el("button", { type: "button", class: "tool", "aria-pressed": "false", html: ICONS.contrast });
  var closeButton = el("button", { type: "button", class: "tool", html: ICONS.close });
  var header = el("div", { class: "header" }, [
    el("span", { class: "avatar", html: ICONS.cross }),
    el("div", { class: "titles" }, [title, subtitle]),
    el("div", { class: "tools" }, [largeButton, contrastButton, closeButton])
  ]);

  var emergencyLead = el("strong");
  var emergencySms = el("span");
  var emergency = el("p", { class: "emergency" }, [
    emergencyLead, document.createTextNode(" "),
    el("a", { href: "tel:%samu%", text: "%samu%" }), document.createTextNode(" · "),
    el("a", { href: "tel:%european%", text: "%european%" }), document.createTextNode(" · "),
    emergencySms, document.createTextNode(" "), el("a", { href: "sms:%deaf_sms%", text: "%deaf_sms%" })
  ]);

  var messages = el("ol", { class: "messages" });
  var typingText = el("span", { class: "sr-only" });
  var typing = el("div", { class: "typing", hidden: true }, [
    el("span", { "aria-hidden": "true" }), el("span", { "aria-hidden": "true" }), el("span", { "aria-hidden": "true" }),
    typingText
  ]);
  // The visible conversation; new messages are announced by the live region below, so that
  // restoring the history after a reload does not read the whole conversation aloud again.
  var log = el("div", { class: "log", id: ids.log, role: "log", "aria-live": "off", tabindex: "0" }, [messages, typing]);
  var status = el("div", { class: "status", role: "status" });

  var inputLabel = el("label", { class: "sr-only", for: ids.input });
  var input = el("textarea", { id: ids.input, rows: "1", maxlength: "5000", autocomplete: "off" });
  var sendButton = el("button", { type: "submit", class: "send", html: ICONS.send });
  var form = el("form", { class: "composer", novalidate: true }, [inputLabel, input, sendButton]);
  var disclaimer = el("p", { class: "disclaimer" });

  var panel = el("section", {
    class: "panel", id: ids.panel, role: "dialog", "aria-modal": "false", "aria-labelledby": ids.title, hidden: true
  }, [header, emergency, log, status, form, disclaimer]);

  var announcer = el("div", { class: "sr-only", "aria-live": "polite", "aria-atomic": "false" });

  root.appendChild(launcher);
  root.appendChild(panel);
  root.appendChild(announcer);
  shadow.appendChild(stylesheet);
  shadow.appendChild(root);

  function t(key) { return (LABELS[state.lang] || LABELS.fr)[key]; }
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k] !== undefined ? values[k] : ""; });
  }

  function applyLabels() {
    panel.setAttribute("lang", state.lang);
    launcher.setAttribute("lang", state.lang);
    launcherLabel.textContent = t("launcher");
    launcher.setAttribute("aria-label", t("launcherFull") + (state.unread ? " (" + t("unread")(state.unread) + ")" : ""));
    title.textContent = t("title");
    subtitleText.textContent = state.socketOpen || !state.started ? t("subtitle") : t("offline");
    subtitleLong.textContent = state.socketOpen || !state.started ? t("subtitleLong") : "";
    subtitle.className = "subtitle" + (state.socketOpen || !state.started ? "" : " offline");
    largeButton.setAttribute("aria-label", t("large"));
    largeButton.title = t("large");
    contrastButton.setAttribute("aria-label", t("contrast"));
    contrastButton.title = t("contrast");
    closeButton.setAttribute("aria-label", t("close"));
    closeButton.title = t("close");
    emergencyLead.textContent = t("emergencyLead");
    emergencySms.textContent = t("emergencySms");
    log.setAttribute("aria-label", t("log"));
    typingText.textContent = t("typing");
    inputLabel.textContent = t("input");
    input.placeholder = t("placeholder");
    sendButton.setAttribute("aria-label", t("send"));
    sendButton.title = t("send");
    disclaimer.textContent = t("disclaimer");
    Array.prototype.forEach.call(messages.querySelectorAll(".quick"), function (group) {
      group.setAttribute("aria-label", t("quick"));
    });
    // The welcome follows the language while the patient has not written yet.
    var welcome = messages.querySelector(".welcome");
    if (welcome && messages.childNodes.length === 1) renderWelcome();
  }

  function setLanguage(lang) {
    if (LANGS.indexOf(lang) < 0 || lang === state.lang) return;
    state.lang = lang;
    applyLabels();
  }

  function applyPrefs() {
    root.classList.toggle("large", !!prefs.large);
    root.classList.toggle("contrast", !!prefs.contrast);
    largeButton.setAttribute("aria-pressed", prefs.large ? "true" : "false");
    contrastButton.setAttribute("aria-pressed", prefs.contrast ? "true" : "false");
  }

  // --- Message text: plain text, links and phone numbers made clickable ----------------------

  var LINK_RE = /\bhttps?:\/\/[^\s<>"'`]+|(?:\+33[\s.]?|\b0)[1-9](?:[\s.]?\d\d){4}\b/g;

  function richText(parent, text) {
    var last = 0;
    String(text).replace(LINK_RE, function (match, offset) {
      var token = match;
      var trailing = "";
      if (/^https?:/i.test(token)) {
        var cut = token.match(/[.,;:!?)\]]+$/);
        if (cut) { trailing = cut[0]; token = token.slice(0, -trailing.length); }
      }
      parent.appendChild(document.createTextNode(text.slice(last, offset)));
      var link;
      if (/^https?:/i.test(token)) {
        link = el("a", { href: token, target: "_blank", rel: "noopener noreferrer", text: token });
      } else {
        link = el("a", { href: "tel:" + token.replace(/[^\d+]/g, ""), text: token });
      }
      parent.appendChild(link);
      if (trailing) parent.appendChild(document.createTextNode(trailing));
      last = offset + match.length;
      return match;
    });
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function telHref(number) {
    var digits = String(number || "").replace(/[^\d+]/g, "");
    return digits ? "tel:" + digits : null;
  }

  function callLink(number, label, urgent) {
    var href = telHref(number);
    if (!href) return null;
    var link = el("a", { class: "cta" + (urgent ? " urgent" : ""), href: href, html: ICONS.phone });
    link.appendChild(el("span", { text: String(label || format(t("call"), { number: number })) }));
    return link;
  }

  // The triage decision as something to act on: a big "Call 15" for an emergency, the place to
  // go with its address for the emergency department, a call button otherwise when one is given.
  function callToAction(custom, lang) {
    if (!custom || typeof custom !== "object") return null;
    var triage = custom.triage && typeof custom.triage === "object" ? custom.triage : null;
    var call = custom.call && typeof custom.call === "object" ? custom.call : null;
    var level = triage ? triage.level : null;
    if (!triage && !call) return null;
    var labels = LABELS[lang] || LABELS[state.lang];
    var urgent = level === "emergency_call";
    var box = el("div", { class: "cta-box" + (urgent || level === "emergency_department" ? " urgent" : "") });
    if (urgent) {
      box.appendChild(el("p", { class: "cta-title", text: labels.urgentTitle }));
      var number = call && telHref(call.number) ? call.number : "%samu%";
      box.appendChild(callLink(number, (call && call.label) || format(labels.call, { number: number }), true));
      return box;
    }
    var place = triage && triage.place && typeof triage.place === "object" ? triage.place : null;
    if (level === "emergency_department") {
      box.appendChild(el("p", { class: "cta-title", text: labels.goTitle }));
    }
    if (place && (place.name || place.address)) {
      var where = el("p", { class: "place" });
      if (place.name) where.appendChild(el("strong", { text: String(place.name) }));
      if (place.address) richText(where, String(place.address));
      box.appendChild(where);
      var placePhone = place.phone ? callLink(place.phone, labels.phone + " " + place.phone, false) : null;
      if (placePhone) box.appendChild(placePhone);
    }
    var callButton = call ? callLink(call.number, call.label || format(labels.call, { number: call.number }),
      level === "emergency_department") : null;
    if (callButton) box.appendChild(callButton);
    return box.childNodes.length ? box : null;
  }

  function timeLabel(iso) {
    if (!iso) return null;
    var date = new Date(iso);
    if (isNaN(date.getTime())) return null;
    try {
      return date.toLocaleTimeString(state.lang === "en" ? "en-GB" : "fr-FR", { hour: "2-digit", minute: "2-digit" });
    } catch (e) {
      return null;
    }
  }

  function whoLabel(message) {
    if (message.direction === "in") return t("you");
    return t(message.author === "nurse" ? "nurse" : message.author === "system" ? "system" : "bot");
  }

  // One message as a list item: speaker, bubble (text, call to action), quick replies, time.
  function renderMessage(message, withButtons) {
    var incoming = message.direction === "in";
    var author = incoming ? "patient" : String(message.author || "bot").replace(/[^a-z]/g, "") || "bot";
    var buttons = !incoming && withButtons && Array.isArray(message.buttons) ? message.buttons : [];
    var item = el("li", {
      class: "msg " + (incoming ? "in" : "out") + " " + author + (message.localError ? " local-error" : ""),
      lang: message.language && LANGS.indexOf(message.language) >= 0 ? message.language : null
    });
    var who = whoLabel(message);
    item.appendChild(el("span", { class: author === "nurse" ? "who" : "sr-only", text: who + (author === "nurse" ? "" : " :") }));
    var bubble = el("div", { class: "bubble" });
    if (message.text) richText(bubble, message.text);
    var cta = incoming ? null : callToAction(message.custom, message.language);
    if (cta) bubble.appendChild(cta);
    if (!message.text && !cta && !buttons.length) return null;
    if (message.text || cta) item.appendChild(bubble);
    if (buttons.length) item.appendChild(quickReplies(buttons));
    var when = timeLabel(message.created_at);
    if (when) item.appendChild(el("span", { class: "time", text: when }));
    return item;
  }

  function quickReplies(buttons) {
    var group = el("div", { class: "quick", role: "group", "aria-label": t("quick") });
    buttons.forEach(function (button) {
      if (!button || !button.title) return;
      var b = el("button", { type: "button", text: String(button.title) });
      b.addEventListener("click", function () {
        send(String(button.payload || button.title), String(button.title));
      });
      group.appendChild(b);
    });
    return group;
  }

  function clearQuickReplies() {
    var focused = shadow.activeElement && shadow.activeElement.closest && shadow.activeElement.closest(".quick");
    Array.prototype.forEach.call(messages.querySelectorAll(".quick"), function (group) { group.remove(); });
    if (focused) input.focus();
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function announce(text) {
    var line = el("p", { text: text });
    announcer.appendChild(line);
    while (announcer.childNodes.length > 3) announcer.removeChild(announcer.firstChild);
  }

  function addMessage(message) {
    if (!message.created_at) message.created_at = new Date().toISOString();
    if (message.direction === "in") clearQuickReplies();
    var item = renderMessage(message, true);
    if (!item) return;
    messages.appendChild(item);
    scrollToEnd();
    if (message.direction !== "in") {
      var who = whoLabel(message);
      var cta = item.querySelector("a.cta");
      announce(format(t("newMessage"), { who: who }) + (message.text || "") + (cta ? " " + cta.textContent : ""));
      if (!state.open) {
        state.unread += 1;
        badge.textContent = String(state.unread);
        badge.hidden = false;
        applyLabels();
      }
    }
  }

  function renderWelcome() {
    Array.prototype.forEach.call(messages.querySelectorAll(".welcome"), function (item) { item.remove(); });
    var item = el("li", { class: "msg out bot welcome", lang: state.lang });
    item.appendChild(el("span", { class: "sr-only", text: t("bot") + " :" }));
    item.appendChild(el("div", { class: "bubble", text: t("welcome") }));
    item.appendChild(quickReplies(t("starters").map(function (s) { return { title: s, payload: s }; })));
    messages.appendChild(item);
  }

  function renderHistory(frame) {
    var list = Array.isArray(frame.messages) ? frame.messages : [];
    if (frame.language) setLanguage(frame.language);
    var last = list.length ? list[list.length - 1] : null;
    var key = list.length + ":" + (last ? last.id : "");
    if (key === state.historyKey && !state.pending) return; // nothing new: keep the page as it is
    state.historyKey = key;
    var focusedQuick = shadow.activeElement && shadow.activeElement.closest && shadow.activeElement.closest(".quick");
    messages.textContent = "";
    var lastIn = -1;
    list.forEach(function (m, i) { if (m.direction === "in") lastIn = i; });
    list.forEach(function (m, i) {
      var item = renderMessage(m, i > lastIn);
      if (item) messages.appendChild(item);
    });
    if (!list.length) renderWelcome();
    if (focusedQuick) input.focus();
    scrollToEnd();
  }

  // The back office refused the session (not issued by it, or idle too long): its conversation is
  // gone from this page too, and the next message starts a new one with a new session.
  function forgetSession(refused) {
    if (local.getItem(KEY + ":session") !== refused) return; // already replaced (another tab, a retry)
    local.removeItem(KEY + ":session");
    local.removeItem(KEY + ":started");
    state.started = false;
    state.historyKey = null;
    messages.textContent = "";
    renderWelcome();
  }

  // --- Typing indicator --------------------------------------------------------------------

  function showTyping() {
    typing.hidden = false;
    scrollToEnd();
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(hideTyping, 30000);
  }

  function hideTyping() {
    typing.hidden = true;
    clearTimeout(state.typingTimer);
  }

  // --- Talking to the back office ------------------------------------------------------------

  function markStarted() {
    if (!state.started) {
      state.started = true;
      local.setItem(KEY + ":started", "1");
    }
  }

  function send(text, shown) {
    text = String(text || "").trim();
    if (!text) return;
    markStarted();
    addMessage({ direction: "in", text: shown || text, language: state.lang });
    showTyping();
    if (state.socket && state.socketOpen) {
      try {
        state.socket.send(JSON.stringify({ type: "message", text: text }));
        expectAck(state.socket, text, shown);
        return;
      } catch (e) { /* falls through to HTTP */ }
    }
    sendOverHttp(text, shown);
    if ("WebSocket" in window) connect(); // and try the socket again for what comes next
  }

  // The back office answers every message at once with "typing". A socket that stays silent
  // (a laptop waking up, a proxy that dropped the connection) is replaced, and the message goes
  // over HTTP instead of being lost.
  function expectAck(socket, text, shown) {
    var waiting = { text: text };
    waiting.timer = setTimeout(function () {
      var index = state.unacked.indexOf(waiting);
      if (index < 0) return;
      state.unacked.splice(index, 1);
      if (state.socket === socket) socket.close(4000, "no answer");
      sendOverHttp(text, shown);
    }, 8000);
    state.unacked.push(waiting);
  }

  function acknowledge() {
    var waiting = state.unacked.shift();
    if (waiting) clearTimeout(waiting.timer);
  }

  function sendOverHttp(text, shown, renewed) {
    state.pending += 1;
    ensureSession().then(function (id) {
      return fetch(new URL("api/chat", baseUrl).href, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender: id, text: text, channel: "web" })
      }).then(function (response) {
        if (response.status === 401 && !renewed) {
          forgetSession(id);
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
    }).then(function (body) {
      state.pending -= 1;
      if (body === null) { // refused session: the message goes again, in a new conversation
        markStarted();
        addMessage({ direction: "in", text: shown || text, language: state.lang });
        sendOverHttp(text, shown, true);
        return;
      }
      hideTyping();
      if (body.language) setLanguage(body.language);
      (body.replies || []).forEach(function (reply) {
        addMessage({ direction: "out", author: "bot", text: reply.text, buttons: reply.buttons, custom: reply.custom,
          language: body.language });
      });
      state.historyKey = null;
    }).catch(function () {
      state.pending -= 1;
      hideTyping();
      addMessage({ direction: "out", author: "system", text: t("sendFailed"), localError: true, language: state.lang });
    });
  }

  function fetchHistory() {
    return ensureSession().then(function (id) {
      return fetch(new URL("api/conversations/web/" + encodeURIComponent(id) + "/history", baseUrl).href, {
        headers: { Accept: "application/json" }
      }).then(function (response) {
        if (response.status === 401 || response.status === 422) {
          forgetSession(id);
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status); // 429 included: the next poll catches up
        return response.json();
      });
    }).then(function (body) {
      if (body && !state.socketOpen && !state.pending) renderHistory(body);
    }).catch(function () { /* offline: the socket's reconnection or the next poll will catch up */ });
  }

  function startPolling() {
    if (state.pollTimer) return;
    state.pollTimer = setInterval(function () {
      if (!state.socketOpen && (state.open || state.started)) fetchHistory();
    }, 15000);
  }

  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  function setStatus(text) {
    status.textContent = text || "";
  }

  function onFrame(event) {
    var frame;
    try { frame = JSON.parse(event.data); } catch (e) { return; }
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "history":
        renderHistory(frame);
        break;
      case "typing":
        acknowledge();
        showTyping();
        break;
      case "echo":
        addMessage({ direction: "in", text: frame.text, language: frame.language });
        showTyping();
        break;
      case "reply":
        hideTyping();
        if (frame.language) setLanguage(frame.language);
        addMessage({ direction: "out", author: frame.author || "bot", text: frame.text, buttons: frame.buttons,
          custom: frame.custom, language: frame.language });
        state.historyKey = null;
        break;
      case "error":
        acknowledge(); // refused before the message path (too long, too fast): answered all the same
        hideTyping();
        if (frame.code === "invalid_session" || frame.code === "expired_session") break; // handled on close
        if (frame.message) {
          addMessage({ direction: "out", author: "system", text: frame.message, localError: true, language: state.lang });
        }
        break;
      default:
        break; // pong, and frames a newer back office may send
    }
  }

  function connect() {
    if (state.socket || state.connecting || !("WebSocket" in window)) {
      if (!("WebSocket" in window)) { startPolling(); fetchHistory(); }
      return;
    }
    clearTimeout(state.reconnectTimer);
    state.connecting = true;
    ensureSession().then(function (id) {
      state.connecting = false;
      openSocket(id);
    }, function () { // the back office is unreachable: try again later, polling meanwhile
      state.connecting = false;
      startPolling();
      scheduleReconnect();
    });
  }

  function openSocket(id) {
    if (state.socket) return;
    var socket;
    try {
      socket = new WebSocket(wsUrl.href);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.socket = socket;
    socket.onopen = function () {
      state.socketOpen = true;
      state.attempts = 0;
      socket.send(JSON.stringify({ type: "hello", session: id, lang: state.lang }));
      setStatus("");
      applyLabels();
      stopPolling();
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(function () {
        if (state.socketOpen) socket.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    };
    socket.onmessage = onFrame;
    socket.onerror = function () { /* onclose follows */ };
    socket.onclose = function (event) {
      var wasOpen = state.socketOpen;
      state.socket = null;
      state.socketOpen = false;
      clearInterval(state.pingTimer);
      if (event.code === 4400) forgetSession(id); // refused: a new session, a new conversation
      if (wasOpen || state.attempts > 0) {
        if (state.open) setStatus(t("reconnecting"));
        applyLabels();
      }
      startPolling(); // pushes still arrive, by polling the history, until the socket is back
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    clearTimeout(state.reconnectTimer);
    var delay = Math.min(30000, 1000 * Math.pow(2, state.attempts)) * (0.75 + Math.random() * 0.5);
    state.attempts += 1;
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (!state.socket && (state.open || state.started)) {
      state.attempts = 0;
      connect();
    }
  }

  // --- Opening, closing, keyboard --------------------------------------------------------------

  function open(focusInput) {
    state.open = true;
    tab.setItem(KEY + ":open", "1");
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    state.unread = 0;
    badge.hidden = true;
    applyLabels();
    if (!messages.childNodes.length) renderWelcome();
    if (!state.socket) connect();
    if (!state.socketOpen && state.started) {
      fetchHistory();
      if (state.attempts > 1) setStatus(t("reconnecting"));
    }
    scrollToEnd();
    if (focusInput !== false) input.focus();
  }

  function close() {
    state.open = false;
    tab.setItem(KEY + ":open", "0");
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    setStatus("");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { open(); });
  closeButton.addEventListener("click", close);
  largeButton.addEventListener("click", function () {
    prefs.large = !prefs.large;
    savePrefs();
    applyPrefs();
    scrollToEnd();
  });
  contrastButton.addEventListener("click", function () {
    prefs.contrast = !prefs.contrast;
    savePrefs();
    applyPrefs();
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) {
      input.focus();
      return;
    }
    input.value = "";
    autosize();
    send(text);
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter starts a new line; an input method composing text keeps Enter.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit();
      else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 4, 8 * parseFloat(getComputedStyle(input).fontSize)) + "px";
  }
  input.addEventListener("input", autosize);

  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });

  // --- Start -------------------------------------------------------------------------------

  function start() {
    document.body.appendChild(host);
    applyPrefs();
    applyLabels();
    var reopen = tab.getItem(KEY + ":open") === "1" || attr("data-open") === "true";
    if (reopen) open(false);
    else if (state.started) connect(); // a returning patient gets pushed messages (badge) even closed
  }

  window.ParcoursChat = {
    open: function () { open(); },
    close: close,
    send: function (text) { send(text); },
    session: function () { return storedSession(); },
    get connected() { return state.socketOpen; }
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
