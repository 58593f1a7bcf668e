package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/realtime"
	"custos/internal/store"
	"custos/internal/tickets"
)

// custQueue is a customer subscription's event queue: a chat rarely has more
// than a few events in flight; a client that lets 64 pile up is too slow.
const custQueue = 64

// backfillPage bounds one store read when filling a gap or a resume.
const backfillPage = 200

// custConn is one customer connection. The reader goroutine (the HTTP
// handler) owns contact and the buckets; the writer goroutine owns the
// delivery state (conv, lastSeq, ...); cur is shared.
type custConn struct {
	*conn
	srv     *Server
	contact desk.Contact
	sub     *realtime.Subscription

	frames, sends bucket

	// cur is the conversation the reader attaches typing/read to; written
	// by the writer when it switches and by the reader after a send.
	cur atomic.Int64

	// Writer-owned delivery state.
	conv       int64
	convStatus desk.Status
	lastSeq    int64
	lastPos    int
}

func (s *Server) serveCustomer(w http.ResponseWriter, r *http.Request) {
	ip := remoteIP(r.RemoteAddr)
	opts := &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}, OriginPatterns: s.cfg.AllowedOrigins}
	ws, err := websocket.Accept(smallBuffers{w}, r, opts)
	if err != nil {
		return // Accept wrote the HTTP error
	}
	ws.SetReadLimit(s.cfg.MaxFrame)
	c := newConn(ws, s.cfg.WriteTimeout, &s.closes)
	if !s.add(c) {
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	cc, cur, resume := s.hello(c, ip)
	if cc == nil {
		c.close(websocket.StatusNormalClosure, "")
		s.remove(c)
		return
	}
	// The socket is hijacked: the handler returns (releasing its deep
	// stack and the request) and the connection lives on in fresh
	// goroutines.
	go cc.run(cur, resume)
}

// hello reads and answers the hello frame. It returns nil after closing c
// when the hello is refused or fails.
func (s *Server) hello(c *conn, ip netip.Addr) (*custConn, desk.Ticket, *resumeFrame) {
	var none desk.Ticket
	// Hello, within the timeout. The timer closes the socket with 4000,
	// which ends the Read below. Reads are not bound to s.ctx: Shutdown
	// closes every connection itself.
	timer := time.AfterFunc(s.cfg.HelloTimeout, func() { c.close(CloseHelloExpected, "hello timeout") })
	typ, data, err := c.ws.Read(context.Background())
	timer.Stop()
	if err != nil {
		return nil, none, nil
	}
	var hello inFrame
	if typ != websocket.MessageText || json.Unmarshal(data, &hello) != nil || hello.Type != "hello" {
		c.close(CloseHelloExpected, "hello expected")
		return nil, none, nil
	}
	if hello.V != 1 {
		c.close(CloseProtocol, "protocol error: unsupported version")
		return nil, none, nil
	}
	if hello.SiteKey != s.cfg.SiteKey {
		c.close(CloseUnauthorized, "unauthorized: bad site key")
		return nil, none, nil
	}
	ctx := s.ctx
	contact, device, err := s.identify(ctx, hello, ip)
	if err != nil {
		switch desk.ErrorCode(err) {
		case desk.EUnauthorized:
			c.close(CloseUnauthorized, "unauthorized: "+reasonOf(err))
		case desk.ERateLimited:
			c.close(CloseRateLimited, "rate limited")
		default:
			s.log.Error("chat hello", slog.Any("err", err))
			c.close(websocket.StatusInternalError, "internal error")
		}
		return nil, none, nil
	}

	now := s.d.Now()
	cc := &custConn{conn: c, srv: s, contact: contact,
		frames: newBucket(s.cfg.FrameRate, s.cfg.FrameBurst, now), sends: newBucket(s.cfg.SendRate, s.cfg.SendBurst, now), lastPos: -2}
	for _, old := range s.addCustomer(cc) {
		go old.close(CloseReplaced, "replaced")
	}

	// Subscribe before reading the conversation, so nothing committed
	// between the read and the first event is missed; the writer dedups by
	// seq what the two overlap on.
	cc.sub = s.d.Hub.SubscribeContact(contact.ID, custQueue, func(ev realtime.Event) bool {
		return ev.Ticket.Channel == desk.ChannelChat || ev.Type == realtime.Queue
	})

	cur, err := s.d.Tickets.CurrentChat(ctx, contact.ID)
	if err != nil && !errors.Is(err, desk.ErrNotFound) {
		s.log.Error("chat current conversation", slog.Any("err", err))
		c.close(websocket.StatusInternalError, "internal error")
		cc.release()
		return nil, none, nil
	}
	token := s.sessions.issue(contact.ID)

	welcome := welcomeFrame{Type: "welcome", V: 1, Session: token, DeviceToken: device,
		HeartbeatSec: int(s.cfg.HeartbeatInterval / time.Second), Contact: contactView{ID: contact.ID, Name: contact.Name},
		Conversation: viewOf(cur)}
	if welcome.HeartbeatSec < 1 {
		welcome.HeartbeatSec = 1
	}
	if err := c.writeJSON(welcome); err != nil {
		cc.release()
		return nil, none, nil
	}
	return cc, cur, hello.Resume
}

// run is the connection after its welcome: it starts the writer, reads
// until the connection ends, then releases everything the connection held.
func (cc *custConn) run(cur desk.Ticket, resume *resumeFrame) {
	s := cc.srv
	defer s.remove(cc.conn)
	defer cc.release()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		cc.writer(cur, resume)
	}()
	if cc.reader() {
		t := time.NewTimer(s.cfg.WriteTimeout)
		select {
		case <-writerDone:
		case <-t.C:
		}
		t.Stop()
	}
	cc.close(websocket.StatusNormalClosure, "")
	<-writerDone
}

// release gives back what hello took: the subscription and the per-contact
// slot (which ends the grace that kept expired sessions valid).
func (cc *custConn) release() {
	s := cc.srv
	cc.sub.Close()
	s.removeCustomer(cc)
}

func reasonOf(err error) string {
	var e *desk.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "invalid credentials"
}

// identify finds or creates the contact of a hello: by identity token, else
// by device token, else as a new anonymous visitor. device is the device
// token to return (anonymous visitors only).
func (s *Server) identify(ctx context.Context, h inFrame, ip netip.Addr) (c desk.Contact, device string, err error) {
	if h.Identity != "" {
		claims, err := auth.VerifyIdentityToken(s.cfg.IdentitySecret, h.Identity, s.d.Now())
		if err != nil {
			if desk.ErrorCode(err) != desk.EUnauthorized {
				err = &desk.Error{Code: desk.EUnauthorized, Message: "invalid identity token", Err: err}
			}
			return c, "", err
		}
		c, err = s.identified(ctx, claims, h.Language)
		return c, "", err
	}
	device = h.DeviceToken
	if !strings.HasPrefix(device, auth.PrefixDevice) || len(device) < 20 || len(device) > 128 {
		device, _ = auth.NewSecret(auth.PrefixDevice)
	}
	hash := auth.HashSecret(device)
	err = s.d.Store.Write(ctx, func(tx store.Tx) error {
		id, err := tx.GetDevice(ctx, hash)
		if err == nil {
			c, err = tx.GetContact(ctx, id)
			return err
		}
		if !errors.Is(err, desk.ErrNotFound) {
			return err
		}
		if !s.visitors.allow(ip, s.d.Now()) {
			return errVisitorLimit
		}
		c = desk.Contact{Name: "Visitor", Language: h.Language}
		if c.Validate() != nil {
			c.Language = ""
		}
		if err := tx.CreateContact(ctx, &c); err != nil {
			return err
		}
		c.Name = fmt.Sprintf("Visitor %d", c.ID)
		if err := tx.UpdateContact(ctx, &c); err != nil {
			return err
		}
		return tx.PutDevice(ctx, hash, c.ID)
	})
	if err != nil {
		return desk.Contact{}, "", fmt.Errorf("chat: visitor: %w", err)
	}
	return c, device, nil
}

// identified upserts the contact of a verified identity token.
func (s *Server) identified(ctx context.Context, cl auth.IdentityClaims, lang string) (desk.Contact, error) {
	var c desk.Contact
	err := s.d.Store.Write(ctx, func(tx store.Tx) error {
		var err error
		c, err = tx.GetContactByUID(ctx, cl.Sub)
		found := err == nil
		if err != nil && !errors.Is(err, desk.ErrNotFound) {
			return err
		}
		before := fmt.Sprint(c.Name, c.Emails, c.Language, c.VIPTier, c.KYCLevel)
		c.ExternalUID = cl.Sub
		if cl.Name != "" {
			c.Name = cl.Name
		}
		if cl.Email != "" && !contains(c.Emails, cl.Email) {
			c.Emails = append([]string{cl.Email}, c.Emails...)
			if len(c.Emails) > desk.MaxEmails {
				c.Emails = c.Emails[:desk.MaxEmails]
			}
		}
		if l := firstNonEmpty(cl.Lang, lang); l != "" {
			c.Language = l
		}
		c.VIPTier, c.KYCLevel = cl.VIPTier, cl.KYCLevel
		if err := c.Validate(); err != nil {
			return &desk.Error{Code: desk.EUnauthorized, Message: "identity token claims are invalid", Err: err}
		}
		if !found {
			return tx.CreateContact(ctx, &c)
		}
		if fmt.Sprint(c.Name, c.Emails, c.Language, c.VIPTier, c.KYCLevel) == before {
			return nil
		}
		return tx.UpdateContact(ctx, &c)
	})
	if err != nil {
		return desk.Contact{}, fmt.Errorf("chat: identified contact: %w", err)
	}
	return c, nil
}

// reader handles client frames until the connection ends. It returns true
// when it handed the close to the writer.
func (cc *custConn) reader() bool {
	s := cc.srv
	for {
		typ, data, err := cc.ws.Read(context.Background())
		if err != nil {
			return false
		}
		now := s.d.Now()
		switch cc.frames.take(now) {
		case refuseWarn:
			cc.enqueue(errorFrame{Type: "error", Code: desk.ERateLimited, Message: "too many frames; slow down"})
			continue
		case refuseQuiet:
			continue
		case cutOff:
			cc.closeAfterQueued(CloseRateLimited, "rate limited")
			return true
		}
		if typ != websocket.MessageText {
			cc.close(CloseProtocol, "protocol error: binary frames are not supported")
			return false
		}
		var f inFrame
		if err := json.Unmarshal(data, &f); err != nil {
			cc.close(CloseProtocol, "protocol error: malformed JSON")
			return false
		}
		switch f.Type {
		case "send":
			switch cc.sends.take(now) {
			case refuseWarn, refuseQuiet:
				cc.enqueue(errorFrame{Type: "error", Code: desk.ERateLimited, Message: "too many messages; slow down", ClientID: f.ClientID})
				continue
			case cutOff:
				cc.closeAfterQueued(CloseRateLimited, "rate limited")
				return true
			}
			cc.send(f)
		case "typing":
			cc.signal(realtime.Event{Type: realtime.Typing, On: f.On})
		case "read":
			cc.signal(realtime.Event{Type: realtime.Read, Seq: f.Seq})
		case "sync":
			cc.enqueue(syncRequest{after: f.AfterSeq})
		case "ping":
			cc.enqueue(typeOnly{Type: "pong"})
		case "hello":
			cc.close(CloseProtocol, "protocol error: hello already received")
			return false
		default:
			cc.close(CloseProtocol, "protocol error: unknown frame type "+quoteType(f.Type))
			return false
		}
		if cc.closed.Load() {
			return false
		}
	}
}

func quoteType(t string) string {
	if len(t) > 32 {
		t = t[:32]
	}
	b, _ := json.Marshal(t)
	return string(b)
}

// send appends a customer message and acknowledges it once committed.
func (cc *custConn) send(f inFrame) {
	s := cc.srv
	p := desk.Problems{}
	if f.ClientID == "" {
		p.Add("client_id", "is required")
	}
	desk.CheckClientID(p, "client_id", f.ClientID)
	if err := p.Err(); err != nil {
		cc.enqueue(errorFrameOf(err, f.ClientID))
		return
	}
	in := tickets.MessageInput{Text: f.Text, AttachmentIDs: f.Attachments, ClientID: f.ClientID}
	var (
		m   desk.Message
		t   desk.Ticket
		dup bool
	)
	err := s.write(func(ctx context.Context) error {
		var err error
		m, t, dup, err = s.d.Tickets.CustomerSend(ctx, cc.contact, in, cc.contact.Language)
		return err
	})
	if err != nil {
		if desk.ErrorCode(err) == desk.EInternal || desk.ErrorCode(err) == desk.EUnavailable {
			s.log.Error("chat send", slog.Int64("contact", cc.contact.ID), slog.Any("err", err))
		}
		cc.enqueue(errorFrameOf(err, f.ClientID))
		return
	}
	if t.ID > cc.cur.Load() {
		cc.cur.Store(t.ID)
	}
	cc.enqueue(ackFrame{Type: "ack", ClientID: m.ClientID, ConversationID: m.TicketID, ID: m.ID, Seq: m.Seq, At: m.CreatedAt.UTC(), Duplicate: dup})
}

func errorFrameOf(err error, clientID string) errorFrame {
	var e *desk.Error
	if !errors.As(err, &e) || e.Code == desk.EInternal || e.Code == desk.EUnavailable {
		return errorFrame{Type: "error", Code: desk.EInternal, Message: "internal error; retry later", ClientID: clientID}
	}
	return errorFrame{Type: "error", Code: e.Code, Message: e.Message, Fields: e.Fields, ClientID: clientID}
}

// signal publishes a customer's typing or read receipt on the current
// conversation; agents see it, nothing is stored.
func (cc *custConn) signal(ev realtime.Event) {
	id := cc.cur.Load()
	if id == 0 {
		return
	}
	ev.Ticket = desk.Ticket{ID: id, ContactID: cc.contact.ID, Channel: desk.ChannelChat}
	// Agent filters need the ticket's team and assignee; the queue tracker
	// does not, so only agent-visible fields are looked up, cheaply.
	if t, ok := cc.srv.queue.ticket(id); ok {
		ev.Ticket = t
	} else if t, err := cc.srv.pooledTicket(id); err == nil {
		ev.Ticket = t
	}
	ev.Actor, ev.ActorID, ev.Name = desk.AuthorContact, cc.contact.ID, cc.contact.Name
	cc.srv.d.Hub.Publish(ev)
}

// pooledTicket is lookupTicket for the connection goroutines.
func (s *Server) pooledTicket(id int64) (desk.Ticket, error) {
	var t desk.Ticket
	err := s.read(func(ctx context.Context) error {
		var err error
		t, err = s.lookupTicket(ctx, id)
		return err
	})
	return t, err
}

// customerMessages reads a page of a conversation on the read pool.
func (s *Server) customerMessages(contactID, convID, after int64) ([]desk.Message, error) {
	var ms []desk.Message
	err := s.read(func(ctx context.Context) error {
		var err error
		ms, err = s.d.Tickets.CustomerMessages(ctx, contactID, convID, after, backfillPage)
		return err
	})
	return ms, err
}

func (s *Server) lookupTicket(ctx context.Context, id int64) (desk.Ticket, error) {
	var t desk.Ticket
	err := s.d.Store.Read(ctx, func(tx store.Tx) error {
		var err error
		t, err = tx.GetTicket(ctx, id)
		return err
	})
	return t, err
}

// syncRequest asks the writer to replay messages after a seq.
type syncRequest struct{ after int64 }

// writer delivers replies, events and heartbeats, in that order of
// preference, and is the only goroutine writing frames after the welcome.
func (cc *custConn) writer(cur desk.Ticket, resume *resumeFrame) {
	if cur.ID != 0 {
		cc.switchTo(cur, false)
		cc.lastSeq = cur.LastSeq
		if resume != nil && resume.ConversationID == cur.ID && resume.LastSeq < cur.LastSeq {
			cc.lastSeq = max(resume.LastSeq, 0)
		}
	}
	// A resumed conversation that is no longer current (solved meanwhile)
	// still gets its missed messages first.
	if resume != nil && resume.ConversationID != 0 && resume.ConversationID != cur.ID {
		if err := cc.replay(resume.ConversationID, resume.LastSeq, 0); err != nil {
			cc.fail(err)
			return
		}
	}
	if cur.ID != 0 {
		if err := cc.backfill(); err != nil {
			cc.fail(err)
			return
		}
		cc.sendQueue()
	}
	for {
		// Direct replies first: an ack should not wait behind events.
		select {
		case it := <-cc.out:
			if err := cc.writeOut(it); err != nil {
				cc.fail(err)
				return
			}
			continue
		default:
		}
		select {
		case <-cc.done:
			return
		case it := <-cc.out:
			if err := cc.writeOut(it); err != nil {
				cc.fail(err)
				return
			}
		case ev, ok := <-cc.sub.C:
			if !ok {
				if cc.sub.Dropped() {
					cc.close(CloseTooSlow, "too slow")
				} else {
					cc.close(websocket.StatusGoingAway, "server shutting down")
				}
				return
			}
			if err := cc.deliver(ev); err != nil {
				cc.fail(err)
				return
			}
		}
	}
}

// writeOut writes a queued reply, answers a sync or pings.
func (cc *custConn) writeOut(it *outItem) error {
	switch {
	case it.code != 0:
		cc.close(it.code, it.reason)
		return nil
	case it.ping:
		cc.heartbeat(2 * cc.srv.cfg.HeartbeatInterval)
		return nil
	case it.sync:
		return cc.sync(it.after)
	}
	return cc.write(it.b)
}

func (cc *custConn) fail(err error) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		// The client stopped reading and its socket buffers are full: the
		// same "too slow" as a full queue, not a server fault. The close
		// frame is attempted, but a client that reads nothing may only see
		// the connection drop.
		cc.srv.log.Debug("chat connection too slow", slog.Int64("contact", cc.contact.ID))
		if cc.closed.Load() {
			// The timed-out write tore the socket down and the reader
			// noticed first; the cause is still the slow client.
			cc.srv.closes.add(CloseTooSlow)
			return
		}
		cc.close(CloseTooSlow, "too slow")
		return
	}
	if cc.closed.Load() {
		return
	}
	cc.srv.log.Warn("chat connection", slog.Int64("contact", cc.contact.ID), slog.Any("err", err))
	cc.close(websocket.StatusInternalError, "internal error")
}

// switchTo makes t the conversation delivered from now on.
func (cc *custConn) switchTo(t desk.Ticket, announce bool) error {
	cc.conv, cc.convStatus, cc.lastSeq, cc.lastPos = t.ID, t.Status, 0, -2
	if t.ID > cc.cur.Load() {
		cc.cur.Store(t.ID)
	}
	if announce {
		return cc.writeJSON(conversationFrame{Type: "conversation", Conversation: viewOf(t)})
	}
	return nil
}

func open(s desk.Status) bool { return s != desk.StatusSolved && s != desk.StatusClosed }

// deliver turns one hub event into frames for this customer.
func (cc *custConn) deliver(ev *realtime.Event) error {
	t := ev.Ticket
	switch ev.Type {
	case realtime.TicketCreated, realtime.TicketUpdated:
		if t.ID > cc.conv && open(t.Status) {
			if err := cc.switchTo(t, true); err != nil {
				return err
			}
			return cc.sendQueue()
		}
		if t.ID == cc.conv && t.Status != cc.convStatus {
			cc.convStatus = t.Status
			v := viewOf(t)
			v.LastSeq = max(v.LastSeq, cc.lastSeq)
			return cc.writeJSON(conversationFrame{Type: "conversation", Conversation: v})
		}
	case realtime.MessageCreated:
		if ev.Message == nil {
			return nil
		}
		if t.ID > cc.conv {
			if err := cc.switchTo(t, true); err != nil {
				return err
			}
			if err := cc.sendQueue(); err != nil {
				return err
			}
		}
		if t.ID != cc.conv {
			return nil
		}
		return cc.message(ev.Message)
	case realtime.Typing:
		if t.ID == cc.conv && ev.Actor != desk.AuthorContact {
			return cc.writeJSON(typingFrame{Type: "typing", Author: author{Kind: ev.Actor, Name: ev.Name}, On: ev.On})
		}
	case realtime.Read:
		if t.ID == cc.conv && ev.Actor != desk.AuthorContact {
			return cc.writeJSON(readFrame{Type: "read", Seq: ev.Seq})
		}
	case realtime.Queue:
		if t.ID == cc.conv && int(ev.Seq) != cc.lastPos {
			cc.lastPos = int(ev.Seq)
			return cc.writeJSON(queueFrame{Type: "queue", Position: cc.lastPos})
		}
	}
	return nil
}

// message delivers m of the current conversation exactly once and in seq
// order. Events of one ticket can reach the hub out of order (two commits
// publish concurrently) and internal notes are seqs the customer never
// sees; a gap is filled from the store, which has every committed message
// up to m, and later duplicates are skipped.
func (cc *custConn) message(m *desk.Message) error {
	switch {
	case m.Seq <= cc.lastSeq:
		return nil
	case m.Seq == cc.lastSeq+1:
		cc.lastSeq = m.Seq
		if m.Internal {
			return nil
		}
		return cc.writeJSON(customerMessage(m))
	}
	if err := cc.backfill(); err != nil {
		return err
	}
	if m.Seq > cc.lastSeq { // not visible to the store reader yet: trust the event
		cc.lastSeq = m.Seq
		if !m.Internal {
			return cc.writeJSON(customerMessage(m))
		}
	}
	return nil
}

// backfill sends every customer-visible message of the current
// conversation after lastSeq that the store has.
func (cc *custConn) backfill() error {
	s := cc.srv
	for {
		ms, err := s.customerMessages(cc.contact.ID, cc.conv, cc.lastSeq)
		if err != nil {
			return err
		}
		for i := range ms {
			if ms[i].Seq <= cc.lastSeq {
				continue
			}
			cc.lastSeq = ms[i].Seq
			if err := cc.writeJSON(customerMessage(&ms[i])); err != nil {
				return err
			}
		}
		if len(ms) < backfillPage {
			return nil
		}
	}
}

// replay sends the messages of one of the contact's conversations after
// seq (up to upTo when not 0) without touching the delivery state.
func (cc *custConn) replay(convID, after, upTo int64) error {
	s := cc.srv
	for {
		ms, err := s.customerMessages(cc.contact.ID, convID, after)
		if errors.Is(err, desk.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for i := range ms {
			after = ms[i].Seq
			if upTo != 0 && after > upTo {
				return nil
			}
			if err := cc.writeJSON(customerMessage(&ms[i])); err != nil {
				return err
			}
		}
		if len(ms) < backfillPage {
			return nil
		}
	}
}

// sync answers a client's sync: the messages after `after` (replays
// allowed), then synced with the newest seq delivered.
func (cc *custConn) sync(after int64) error {
	if cc.conv != 0 {
		if after >= cc.lastSeq {
			if err := cc.backfill(); err != nil {
				return err
			}
		} else {
			if err := cc.replay(cc.conv, after, cc.lastSeq); err != nil {
				return err
			}
			if err := cc.backfill(); err != nil {
				return err
			}
		}
	}
	return cc.writeJSON(syncedFrame{Type: "synced", LastSeq: cc.lastSeq})
}

// sendQueue sends the current conversation's queue position if known and
// changed.
func (cc *custConn) sendQueue() error {
	pos, ok := cc.srv.queue.position(cc.conv)
	if !ok || pos == cc.lastPos {
		return nil
	}
	if pos < 0 && cc.lastPos == -2 {
		cc.lastPos = -1 // never queued as far as this client knows
		return nil
	}
	cc.lastPos = pos
	return cc.writeJSON(queueFrame{Type: "queue", Position: pos})
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
