// Package demo loads a small, realistic desk into an empty database: teams
// along the escalation ladder, agents of every role, customers and tickets in
// English, Chinese, Korean, Thai and Japanese. It goes through the same
// services as real traffic, so demo data is valid data.
package demo

import (
	"context"
	"errors"
	"fmt"

	"custos/internal/auth"
	"custos/internal/desk"
	"custos/internal/store"
	"custos/internal/tickets"
)

// Login is a demo account to print.
type Login struct {
	Login, Password string
	Role            desk.Role
	Name            string
}

// Password is shared by every demo agent (it is printed; demo only).
const Password = "custos-demo-2026"

// Logins lists the demo accounts.
func Logins() []Login {
	out := make([]Login, len(agents))
	for i, a := range agents {
		out[i] = Login{Login: a.login, Password: Password, Role: a.role, Name: a.name}
	}
	return out
}

var teams = []desk.Team{
	{Name: "Frontline (L1)", Kind: desk.TeamL1, BusinessHours: "24/7"},
	{Name: "Engineering (L2)", Kind: desk.TeamL2, BusinessHours: "24/7"},
	{Name: "VIP Desk", Kind: desk.TeamVIP, BusinessHours: "24/7"},
	{Name: "Security & Compliance", Kind: desk.TeamExpert, BusinessHours: "Mon-Fri 09:00-18:00 UTC"},
}

type demoAgent struct {
	login, name string
	role        desk.Role
	teams       []int // indexes into teams
	langs       []string
	skills      []string
}

var agents = []demoAgent{
	{"admin", "Ada Admin", desk.RoleAdmin, []int{0, 1, 2, 3}, []string{"en"}, nil},
	{"lead", "Lee Lead", desk.RoleLead, []int{0, 1}, []string{"en", "ko"}, []string{"escalations"}},
	{"alice", "Alice Chen", desk.RoleAgent, []int{0}, []string{"en", "zh-CN"}, []string{"deposits", "withdrawals"}},
	{"minji", "Kim Minji", desk.RoleAgent, []int{0}, []string{"ko", "ja", "en"}, []string{"account", "kyc"}},
	{"somchai", "Somchai P.", desk.RoleAgent, []int{0}, []string{"th", "en"}, []string{"trading"}},
	{"eng", "Erik Engineer", desk.RoleAgent, []int{1}, []string{"en"}, []string{"blockchain", "api"}},
	{"vip", "Valentina VIP", desk.RoleAgent, []int{2}, []string{"en", "zh-CN"}, []string{"vip", "otc"}},
	{"qa", "Quinn QA", desk.RoleQA, []int{0}, []string{"en"}, nil},
	{"auditor", "Aiko Auditor", desk.RoleAuditor, nil, []string{"ja", "en"}, nil},
}

var contacts = []desk.Contact{
	{ExternalUID: "UID-100234", Name: "John Miller", Emails: []string{"john.miller@example.com"}, Phone: "+14155550134", Language: "en", VIPTier: 0, KYCLevel: 2},
	{ExternalUID: "UID-100871", Name: "王伟", Emails: []string{"wang.wei@example.cn"}, Phone: "+8613800138000", Language: "zh-CN", VIPTier: 3, KYCLevel: 2},
	{ExternalUID: "UID-101552", Name: "김민수", Emails: []string{"minsu.kim@example.kr"}, Phone: "+821012345678", Language: "ko", VIPTier: 0, KYCLevel: 1},
	{ExternalUID: "UID-102003", Name: "สมศรี ใจดี", Emails: []string{"somsri@example.co.th"}, Phone: "+66812345678", Language: "th", VIPTier: 0, KYCLevel: 1},
	{ExternalUID: "UID-102440", Name: "佐藤 花子", Emails: []string{"hanako.sato@example.jp"}, TelegramID: "@hanako_s", Language: "ja", VIPTier: 1, KYCLevel: 2},
}

type demoTicket struct {
	contact  int
	channel  desk.Channel
	subject  string
	priority desk.Priority
	team     int // -1 none
	assignee int // index into agents, -1 none
	tags     []string
	category string
	messages []demoMsg
}

type demoMsg struct {
	agent    int // -1 = the contact
	internal bool
	text     string
}

var demoTickets = []demoTicket{
	{0, desk.ChannelChat, "Withdrawal stuck for 3 hours", desk.PriorityHigh, 0, -1, []string{"withdrawal"}, "deposit_withdrawal", []demoMsg{
		{-1, false, "Hi, my BTC withdrawal has been pending for 3 hours. TxID is not shown yet."},
	}},
	{1, desk.ChannelChat, "充值到错误的网络", desk.PriorityUrgent, 2, 6, []string{"mis-deposit", "usdt"}, "deposit_withdrawal", []demoMsg{
		{-1, false, "你好，我把 USDT 通过 BEP20 网络充值到了 TRC20 地址，请问能找回吗？"},
		{6, false, "您好，王先生。请提供交易哈希，我们会为您提交找回申请。"},
		{6, true, "VIP3 customer, ~12,000 USDT. Escalate to L2 if the hash confirms on BSC."},
	}},
	{2, desk.ChannelEmail, "계정 로그인이 안 됩니다", desk.PriorityNormal, 0, 3, []string{"login"}, "account", []demoMsg{
		{-1, false, "안녕하세요, 비밀번호를 재설정했는데도 로그인이 되지 않습니다. 도와주세요."},
		{3, false, "안녕하세요 고객님, 확인을 위해 가입하신 이메일 주소로 인증 코드를 보내드렸습니다."},
	}},
	{3, desk.ChannelChat, "ถอนเงินบาทไม่ได้", desk.PriorityNormal, 0, 4, []string{"fiat"}, "deposit_withdrawal", []demoMsg{
		{-1, false, "สวัสดีค่ะ ถอนเงินบาทเข้าบัญชีธนาคารไม่ได้ ขึ้นข้อผิดพลาดค่ะ"},
	}},
	{4, desk.ChannelTelegram, "本人確認（KYC）の審査状況について", desk.PriorityNormal, 3, -1, []string{"kyc"}, "compliance", []demoMsg{
		{-1, false, "KYCの書類を3日前に提出しましたが、まだ審査中です。いつ完了しますか？"},
	}},
	{0, desk.ChannelAPI, "API key rate limit on futures endpoint", desk.PriorityLow, 1, 5, []string{"api", "futures"}, "platform", []demoMsg{
		{-1, false, "Getting HTTP 429 on /futures/orders with 10 requests per second. Documented limit is 20."},
		{5, true, "Reproduced: limiter counts cancels too. Filed PLAT-2231."},
	}},
	{2, desk.ChannelChat, "스테이킹 보상이 들어오지 않았어요", desk.PriorityNormal, 0, -1, []string{"staking"}, "platform", []demoMsg{
		{-1, false, "ETH 스테이킹 보상이 어제부터 지급되지 않았습니다."},
	}},
	{1, desk.ChannelWeb, "账户被冻结", desk.PriorityUrgent, 3, 1, []string{"security", "freeze"}, "security", []demoMsg{
		{-1, false, "我的账户突然被冻结了，我没有做任何异常操作。"},
		{1, false, "您好，出于安全原因账户已被临时冻结。我们需要先完成身份验证。"},
	}},
}

// Load fills an empty desk. It returns the number of tickets it created, and
// 0 without error when the demo agents already exist.
func Load(ctx context.Context, st store.Store, au *auth.Service, ts *tickets.Service) (int, error) {
	err := st.Read(ctx, func(tx store.Tx) error {
		_, err := tx.GetAgentByLogin(ctx, "admin")
		return err
	})
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, desk.ErrNotFound) {
		return 0, err
	}
	teamIDs := make([]int64, len(teams))
	contactIDs := make([]int64, len(contacts))
	err = st.Write(ctx, func(tx store.Tx) error {
		for i := range teams {
			t := teams[i]
			if err := t.Validate(); err != nil {
				return err
			}
			if err := tx.CreateTeam(ctx, &t); err != nil {
				return err
			}
			teamIDs[i] = t.ID
		}
		for i := range contacts {
			c := contacts[i]
			if err := c.Validate(); err != nil {
				return err
			}
			if err := tx.CreateContact(ctx, &c); err != nil {
				return err
			}
			contactIDs[i] = c.ID
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("demo teams/contacts: %w", err)
	}
	agentIDs := make([]int64, len(agents))
	actors := make([]tickets.Actor, len(agents))
	for i, d := range agents {
		a := desk.Agent{Login: d.login, Name: d.name, Role: d.role, Languages: d.langs, Skills: d.skills, ChatLimit: 5, Presence: desk.PresenceOffline}
		for _, ti := range d.teams {
			a.TeamIDs = append(a.TeamIDs, teamIDs[ti])
		}
		if err := au.CreateAgent(ctx, auth.Principal{}, &a, Password); err != nil {
			return 0, fmt.Errorf("demo agent %s: %w", d.login, err)
		}
		agentIDs[i] = a.ID
		actors[i] = tickets.Actor{Kind: desk.AuthorAgent, ID: a.ID, Name: a.Name, All: true, CanAssign: true}
	}
	n := 0
	for _, dt := range demoTickets {
		in := tickets.CreateInput{
			Channel: dt.channel, Subject: dt.subject, ContactID: contactIDs[dt.contact],
			Priority: dt.priority, Tags: dt.tags, Category: dt.category,
		}
		if dt.team >= 0 {
			in.TeamID = teamIDs[dt.team]
		}
		c := contacts[dt.contact]
		c.ID = contactIDs[dt.contact]
		customer := tickets.Actor{Kind: desk.AuthorContact, ID: c.ID, Name: c.Name}
		first := dt.messages[0]
		in.Message = &tickets.MessageInput{Text: first.text}
		t, err := ts.Create(ctx, customer, in)
		if err != nil {
			return n, fmt.Errorf("demo ticket %q: %w", dt.subject, err)
		}
		n++
		if dt.assignee >= 0 {
			id := agentIDs[dt.assignee]
			if _, err := ts.Update(ctx, actors[0], t.ID, tickets.Patch{AssigneeID: &id}); err != nil {
				return n, err
			}
		}
		for _, m := range dt.messages[1:] {
			a := customer
			if m.agent >= 0 {
				a = actors[m.agent]
			}
			if _, _, err := ts.AddMessage(ctx, a, t.ID, tickets.MessageInput{Text: m.text, Internal: m.internal}); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
