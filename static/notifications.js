// Live notifications: one WebSocket per page (/ws/notifications/). Each notification has the
// header's two counters (open tasks, unread notifications) read again from the server
// (data-notifications-counters: similar notifications count once there, and a task can arrive
// or leave with one) and reloads, from the server, the parts of the page marked
// data-live-region (the inbox's count and list, the contract page's status and progress,
// the notification centre's list). Without this script the pages work as before: they are
// up to date at each load. On a lost connection it reconnects, asking for what it missed
// since the last id it saw, and drops an id it already has; closed by the server with 4401
// (this session logged out, or the password changed), it stays closed.
(function () {
  "use strict";
  var body = document.body;
  var path = body && body.getAttribute("data-notifications-socket");
  if (!path || !window.WebSocket || !window.fetch || !window.DOMParser) {
    return;
  }
  var lastId = parseInt(body.getAttribute("data-notifications-after"), 10) || 0;
  var countersUrl = body.getAttribute("data-notifications-counters");
  var seen = {};
  var delay = 1000;
  var refreshTimer = null;
  var pendingContracts = {};
  var refreshAll = false;
  var REVOKED = 4401;

  function showCount(badgeSelector, labelSelector, count, text) {
    var badge = document.querySelector(badgeSelector);
    if (!badge || typeof count !== "number") {
      return;
    }
    badge.textContent = String(count);
    badge.classList.toggle("nav-count--zero", count === 0);
    var label = document.querySelector(labelSelector);
    if (label && text) {
      label.textContent = text;
    }
  }

  function refreshCounters() {
    if (!countersUrl) {
      return;
    }
    fetch(countersUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        return response.ok && type.indexOf("application/json") === 0 ? response.json() : null;
      })
      .then(function (counters) {
        if (!counters) {
          return;
        }
        showCount("[data-task-badge]", "[data-task-label]", counters.tasks, counters.tasks_label);
        showCount("[data-unread-badge]", "[data-unread-label]", counters.unread, counters.unread_label);
      })
      .catch(function () { /* the next notification or reload will bring them */ });
  }

  function regionWanted(region) {
    var contract = region.getAttribute("data-live-contract");
    return refreshAll || !contract || pendingContracts[contract];
  }

  function refreshRegions() {
    refreshCounters();
    var regions = Array.prototype.filter.call(
      document.querySelectorAll("[data-live-region]"), regionWanted);
    pendingContracts = {};
    refreshAll = false;
    if (!regions.length) {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        regions.forEach(function (region) {
          var name = region.getAttribute("data-live-region");
          var replacement = fresh.querySelector('[data-live-region="' + name + '"]');
          // Never pull a form from under someone typing or choosing in it.
          if (!replacement || region.contains(document.activeElement) &&
              /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) {
            return;
          }
          region.innerHTML = replacement.innerHTML;
        });
      })
      .catch(function () { /* the next notification or reload will bring it */ });
  }

  function scheduleRefresh(notification) {
    if (notification.contract) {
      pendingContracts[String(notification.contract)] = true;
    } else {
      refreshAll = true;
    }
    // Several notifications of one change arrive together: one reload for all of them.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshRegions, 300);
  }

  function receive(event) {
    var notification;
    try {
      notification = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (notification.type !== "notification" || seen[notification.id]) {
      return;
    }
    seen[notification.id] = true;
    lastId = Math.max(lastId, notification.id);
    scheduleRefresh(notification);
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + path + "?after=" + lastId);
    var reconnecting = delay > 1000 || body.getAttribute("data-notifications-state") === "closed";
    socket.onopen = function () {
      delay = 1000;
      body.setAttribute("data-notifications-state", "open");
      // Back after a lost connection: whatever changed meanwhile, the counters say it now.
      if (reconnecting) {
        refreshCounters();
      }
    };
    socket.onmessage = receive;
    socket.onclose = function (event) {
      if (event.code === REVOKED) {
        body.setAttribute("data-notifications-state", "revoked");
        return;
      }
      body.setAttribute("data-notifications-state", "closed");
      // Back off up to 30 s; the reconnection asks for everything after lastId.
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  connect();
}());
