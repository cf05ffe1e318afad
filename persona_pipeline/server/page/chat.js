// The coach's chat page: streams answers from /v1/chat/completions and sends ratings and corrections to
// /v1/feedback. Everything the server or the user wrote is put on the page as text, never as HTML.
"use strict";

const BADGES = {
  direct: "From his notes",
  closest: "Closest to this, I wrote (not a direct answer)",
  not_written: "I have not written about this",
};

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = document.getElementById("api-key").value;
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

async function describeServer() {
  const health = await (await fetch("/healthz")).json();
  document.getElementById("key-box").hidden = !health.auth_required;
  const serving = document.getElementById("serving");
  for (;;) {
    const ready = await fetch("/readyz");
    const body = await ready.json();
    if (ready.ok) break;
    serving.textContent = body.error || "loading the models…";
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const models = await fetch("/v1/models", { headers: headers() });
  if (!models.ok) {
    serving.textContent = "ready; enter the API key";
    return;
  }
  const labels = Object.values((await models.json()).data[0].persona.adapters);
  serving.textContent = "serving " + (labels.join(", ") || "the base model");
}

// the answer's text with every [n] turned into a link to its excerpt
function renderText(target, text, citations) {
  target.replaceChildren();
  const byNumber = new Map((citations || []).map((c) => [c.number, c]));
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    target.append(document.createTextNode(text.slice(last, match.index)));
    const citation = byNumber.get(Number(match[1]));
    if (citation) {
      const link = document.createElement("a");
      link.className = "cite";
      link.href = "#source-" + citation.number;
      link.textContent = match[0];
      link.addEventListener("click", (event) => { event.preventDefault(); showSource(citation); });
      target.append(link);
    } else {
      target.append(document.createTextNode(match[0]));
    }
    last = match.index + match[0].length;
  }
  target.append(document.createTextNode(text.slice(last)));
}

function showSource(citation) {
  document.getElementById("source-title").textContent = "[" + citation.number + "] " + citation.source;
  document.getElementById("source-where").textContent = citation.location + " · " + citation.knowledge_type;
  document.getElementById("source-text").textContent = citation.text;
  document.getElementById("source").hidden = false;
}

function showEvidence(list, persona) {
  list.replaceChildren();
  const shown = persona.evidence.length ? persona.evidence : persona.evidence_candidates;
  for (const item of shown) {
    const li = document.createElement("li");
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = "p=" + item.score.toFixed(2) + " ";
    const where = document.createElement("span");
    where.className = "muted";
    where.textContent = " — " + item.source + ", " + item.location + " · " +
      Object.entries(item.signals).map(([k, v]) => k + " " + v).join(", ");
    li.append(score, document.createTextNode(item.sentence), where);
    list.append(li);
  }
  if (!shown.length) list.append(Object.assign(document.createElement("li"), { textContent: "no excerpt was retrieved" }));
  for (const note of persona.notes) list.append(Object.assign(document.createElement("li"), { className: "muted", textContent: note }));
}

async function sendFeedback(article, payload) {
  const status = article.querySelector(".feedback-status");
  const response = await fetch("/v1/feedback", {
    method: "POST", headers: headers(), body: JSON.stringify({ answer_id: article.dataset.answerId, ...payload }),
  });
  const body = await response.json();
  status.textContent = response.ok ? (body.review ? "saved; waiting for review" : "thank you") : body.error.message;
  article.dataset.feedback = response.ok ? "saved" : "failed";
}

function wireTools(article, persona) {
  const evidence = article.querySelector(".evidence");
  article.querySelector(".why").addEventListener("click", () => {
    showEvidence(evidence, persona);
    evidence.hidden = !evidence.hidden;
  });
  for (const button of article.querySelectorAll(".rate")) {
    button.addEventListener("click", () => {
      article.querySelectorAll(".rate").forEach((b) => b.classList.remove("chosen"));
      button.classList.add("chosen");
      sendFeedback(article, { rating: button.dataset.rating });
    });
  }
  const form = article.querySelector(".correction");
  article.querySelector(".correct").addEventListener("click", () => { form.hidden = false; form.querySelector("textarea").focus(); });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = form.querySelector("textarea").value.trim();
    if (text) sendFeedback(article, { correction: text });
  });
}

// server-sent events: one JSON object per "data:" line, "[DONE]" at the end
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const line = buffer.slice(0, cut).replace(/^data: /, "");
      buffer = buffer.slice(cut + 2);
      if (line === "[DONE]") return;
      yield JSON.parse(line);
    }
  }
}

async function ask(question) {
  const article = document.getElementById("answer-template").content.firstElementChild.cloneNode(true);
  article.querySelector(".question").textContent = question;
  const textBox = article.querySelector(".text");
  document.getElementById("conversation").append(article);
  article.scrollIntoView();
  let text = "", pieces = 0;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(),
      // the answer rests on the question alone (docs/server.md, "Conversations"), so earlier turns are not resent
      body: JSON.stringify({ model: "persona", stream: true, messages: [{ role: "user", content: question }] }),
    });
    if (!response.ok) throw new Error((await response.json()).error.message);
    for await (const chunk of events(response)) {
      if (chunk.error) throw new Error(chunk.error.message);
      const piece = chunk.choices[0].delta.content;
      if (piece) {
        text += piece;
        pieces += 1;
        article.dataset.pieces = pieces;
        textBox.textContent = text;
      }
      if (chunk.persona) {
        const persona = chunk.persona;
        article.dataset.answerId = persona.answer_id;
        article.dataset.outcome = persona.outcome;
        article.querySelector(".badge").textContent = BADGES[persona.outcome] || persona.outcome;
        renderText(textBox, text, persona.citations);
        wireTools(article, persona);
      }
    }
    article.dataset.state = "done";
  } catch (error) {
    article.dataset.state = "error";
    textBox.textContent = text + (text ? "\n" : "") + "Error: " + error.message;
  }
}

document.getElementById("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("question");
  const question = box.value.trim();
  if (!question) return;
  box.value = "";
  const send = document.getElementById("send");
  send.disabled = true;
  try { await ask(question); } finally { send.disabled = false; box.focus(); }
});
document.getElementById("question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); document.getElementById("send").click(); }
});
document.getElementById("source-close").addEventListener("click", () => { document.getElementById("source").hidden = true; });
describeServer();
