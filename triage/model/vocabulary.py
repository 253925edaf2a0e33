"""The words and patterns the signals look for (`triage.model.features`), and the drafts quote
(`triage.letters.draft_facts`): asks, offers, pitches, templates, bulk and no-reply markers.
Phrase lists are `phrases` patterns; the rest are regular expressions or substrings."""

from __future__ import annotations

import re

from triage.model.phrases import phrases


def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


INTRO_ASK = phrases(
    "introduce me",
    "intro me",
    "(an|a|the) (intro|introduction) to",
    "connect me (with|to)",
    "put me in touch",
    "(could|would|can|will) you [please] (connect|introduce|intro)",
    "make an (intro|introduction)",
    "warm (intro|introduction)",
    "loop me in with",
    "point me (to|towards) (the right|someone)",
    "(love|appreciate) an (intro|introduction)",
    "(intro|introduction) to your",
    "get in front of",
    "be introduced to",
)
NETWORK = phrases(
    "your (network|contacts|connections|circle|followers|audience|friends|colleagues)",
    "anyone you know",
    "anyone in your",
    "(know|knows) [of] (anyone|someone|somebody)",
    "forward (this|it|my|our)",
    "share (this|it|my|our) with",
    "pass (this|it) (along|on)",
    "spread the word",
    "tag [3|three|a|your] friends",
    "who might (be interested|need)",
    "(friends|family) who",
)
REWARD = phrases(
    "gift card",
    "commission",
    "finder's fee",
    "finders fee",
    "bonus",
    "per referral",
    "for (every|each) (referral|friend|person|client|signup|introduction)",
    "referral (fee|program|programme|reward|bonus|link|code)",
    "earn up to",
    "paid referral",
)
MONEY = re.compile(r"[$€£]\s?\d|\d\s?(?:usd|eur|gbp|USD|EUR|GBP)\b")
MLM = phrases(
    "financial freedom",
    "be your own boss",
    "(work|working) from (home|your phone)",
    "extra income",
    "side hustle",
    "passive income",
    "join (my|our) team",
    "residual income",
    "business opportunity",
    "time freedom",
    "ground floor",
    "fire your boss",
    "my (business|team) is growing",
    "wellness business",
    "brand ambassador",
    "life changing",
    "make money",
    "your own business",
    "from your phone",
    "income stream",
    "mompreneur",
    "boss babe",
)
JOB_ASK = phrases(
    "(looking|searching|seeking) for [a|new|any] "
    "(job|role|position|work|opportunity|opportunities)",
    "open (roles|positions|vacancies)",
    "refer me",
    "my (resume|cv)",
    "hire me",
    "what do you have",
    "what can you (do|offer)",
    "any (openings|opportunities|jobs|vacancies)",
    "help me (find|get) a job",
    "job opportunities",
    "i am (looking|available) for",
)
HOMEWORK = phrases(
    "i (read|loved|enjoyed|listened to|watched|saw) your",
    "your [recent|latest] (article|post|talk|paper|book|podcast|thread|essay|keynote"
    "|newsletter|research|presentation|interview)",
    "your work on",
    "i noticed [that] you",
    "you (wrote|mentioned|said|shared|argued)",
)
HELP_OFFER = phrases(
    "happy to (help|share|introduce|connect|send|chat)",
    "let me know if (i|there)",
    "if (it's|it is|it would be|that's) (helpful|useful)",
    "i can (help|send|share|introduce)",
    "(anything|something) i can do",
    "thought (you|this) might",
    "in case it's useful",
    "for what it's worth",
)
# An easy way out of the ask: what makes an ask considerate (domain.md), where "I can send you
# a blurb to forward" only makes it easy to say yes.
EASY_NO = phrases(
    "no pressure",
    "no worries if not",
    "feel free to (ignore|say no|pass)",
    "totally understand if",
    "(totally|completely|fully) (understand|get it)",
    "(i|i'll) understand if",
    "if (you're|you are) [too] busy",
    "if you('d| would) rather not",
    "if you prefer not",
    "no problem if not",
    "if not no worries",
    "no worries at all",
)
OFFER = HELP_OFFER | EASY_NO
THANKS = phrases(
    "thank", "thanks", "grateful", "appreciate", "appreciated", "thx", "gracias", "merci"
)
CONGRATS = phrases(
    "congrats",
    "congratulations",
    "congratulation",
    "congratulate",
    "well deserved",
    "so proud",
    "happy for you",
    "kudos",
    "mazel tov",
)
HISTORY = phrases(
    "we met",
    "(great|good|lovely|nice) (meeting|seeing|chatting|talking)",
    "(great|good|lovely|nice) to (meet|see)",
    "(worked|working) together",
    "since (we|our)",
    "last time we",
    "remember (when|our)",
    "long time",
    "been (a while|ages|too long)",
    "catch up",
    "catching up",
    "our (chat|call|conversation|coffee|lunch)",
)
TEMPLATE = phrases(
    "came across your (profile|company|website)",
    "hope (this|my) (email|message|note) finds you",
    "quick question",
    "touch base",
    "synergy",
    "synergies",
    "i'd love to add you",
    "mutually beneficial",
    "explore [potential|possible] (opportunities|collaboration)",
    "decision maker",
    "decision makers",
)
# An unfilled merge field ("Hi {{FirstName}}", "[Name]"): also what tells a letter
# (triage.letters.draft_warmth) that the message went to many people.
MERGE_FIELD = re.compile(
    r"\{\{|\}\}|\[(?:first ?name|name|company)\]|%[A-Z_]{3,}%|\{(?:first_?name|company|name)\}",
    re.I,
)
CALENDAR = phrases(
    "book [a|some] (time|call|slot|meeting)",
    "grab [a] (time|slot)",
    "my calendar",
    "(15|20|30) (min|mins|minute|minutes)",
)
# Scheduling links, found by substring: a case-insensitive alternation costs 60 us a message.
CALENDAR_LINKS = (
    "calendly.com",
    "chilipiper",
    "savvycal",
    "cal.com/",
    "meetings.hubspot",
    "hubspot.com/meetings",
    "zcal.co",
    "tidycal",
)
BUMP = phrases(
    "bump",
    "bumping",
    "top of your inbox",
    "(circle|circling) back",
    "following up on my",
    "(follow|following) up (on|again)",
    "did you (get|have) a chance",
    "haven't heard back",
    "close (your|the|out your) file",
    "last (attempt|try|email)",
    "floating this",
)
PITCH = phrases(
    "our (platform|solution|service|product|agency|company|software|tool|clients)",
    "we help",
    "we (work|partner) with",
    "case study",
    "case studies",
    "demo",
    "pricing",
    "roi",
    "leads",
    "revenue",
    "free trial",
    "discount",
    "limited (time|spots)",
    "investment",
    "returns",
    "scale your",
    "grow your",
)
JOB_OFFER = phrases(
    "(we're|we are|i'm|i am) hiring",
    "(the|this|a) (role|position|opening)",
    "hiring manager",
    "open to [new] opportunities",
    "compensation",
    "base salary",
    "salary range",
    "job description",
    "(recruiting|hiring) for",
    "recruiter",
    "talent partner",
    "(remote|hybrid|onsite) (role|position)",
    "relocation",
    "your background",
)
ASKS_FOR_CALL = phrases(
    "quick call",
    "(hop|jump) on a call",
    "(15|20|30) (minute|min) (call|chat)",
    "open to a (call|chat|conversation)",
    "worth a (chat|call|conversation)",
    "(would|are) you be open to",
    "(would|are) you open to",
    "set up a (call|time|meeting)",
    "schedule a (call|demo|meeting)",
    "find (some) time",
    "(free|available) (this|next) week",
    "(book|grab) (a|some) time",
    "let's connect",
)
# Who offers whom an introduction: "want me to connect you with Priya?" gives, "could you
# connect me with Priya?" asks. Real introducers offer far more often than our corpus showed.
INTRO_OFFER = phrases(
    "(introduce|introduced|intro|connect|connected) you (to|with)",
    "put you in touch",
    "(happy|glad) to (introduce|intro|connect) you",
    "(want|like) me to (introduce|intro|connect)",
    "(want|like) an (intro|introduction)",
    "open to an (intro|introduction)",
    "(i|we) can (introduce|intro|connect) you",
    "make the (intro|introduction)",
    "(gave|passed|shared) your (name|details|info|email|number)",
    "referred (someone|a|him|her|them) to you",
    "(sent|sending) (someone|him|her|them) your way",
    "you two should",
    "(mind|ok|okay|alright) if i (introduce|introduced|intro|connect|connected|put)",
    "(may|can|could|should) i (introduce|intro|connect) you",
    "(i'd|i would) (love|like) to (introduce|connect|intro) you",
    "(up for|open to|interested in|keen on) (an|a) (intro|introduction|connection)",
    "(open|willing|happy|up) (to|for) (meet|meeting|chat with|chatting with|talk to|talking to"
    "|speak with|speaking with|connect with|connecting with|hear from|hearing from) (him|her"
    "|them)",
    "(introduce|intro|connect) (you two|the two of you|you both)",
    "(be|being) introduced",
    "(ok|okay|alright|fine) to (introduce|intro|connect)",
    "(call|chat|coffee|meeting) with my (friend|colleague|former colleague|mentee|cousin"
    "|brother|sister|nephew|niece|son|daughter|student|client)",
)
# A request made of the reader, in the forms people use to ask for something.
ASKS_OF_YOU = phrases(
    "(could|would|can|will) you [please] (help|share|send|review|introduce|connect|forward"
    "|consider|look|take|give|spare|let|tell|recommend|refer|check|make|advise|answer|point)",
    "(are|would) you [be] (open|interested|available|willing|able)",
    "i was wondering (if|whether)",
    "would it be possible",
    "do you have (time|a few|any|some)",
    "(i'd|i would) (love|like) to"
    " (get|pick|hear|ask|chat|connect|talk|schedule|set|book|learn|show|discuss)",
    "please (let|send|share|consider|help|review|forward|reply|get back)",
    "looking for (advice|help|feedback|guidance|a mentor|mentorship|support|sponsors|partners)",
    "(any|some) (advice|help|pointers|guidance) (would|you)",
    "i need your (help|advice|support)",
    "if you could",
    "let me know if you('re| are) (interested|open|available)",
    "(interested|open) in (a|an|learning|hearing|exploring)",
)
# Opening moves of a first message from someone the reader does not know.
STRANGER = phrases(
    "we (haven't|have not|havent) (met|spoken|talked)",
    "you don't know me",
    "my name is",
    "(i|we) came across",
    "(i'm|i am) reaching out",
    "reaching out (to|because|regarding)",
    "allow me to introduce myself",
    "let me introduce myself",
    "(i|we) stumbled (on|upon|across)",
    "(i|we) found your (profile|email|contact|website|project|repo|channel|blog)",
    "hope you don't mind (me|my)",
    "sorry for the cold",
    "cold (email|message|outreach|note)",
    "a fellow",
    "introduce myself",
)
# Mail written to a group, which the conventions make `other` however warm it is.
GROUP = phrases(
    "(hi|hello|hey|dear|morning|welcome) (all|everyone|everybody|folks|team|y'all|members"
    "|friends|colleagues|community|guys|people|list)",
    "to all (of you|members|our)",
    "thanks (everyone|all|all of you)",
    "thank you (everyone|all|all of you)",
    "each (and every one )?of you",
    "everyone who",
    "all (members|attendees|contributors)",
    "(our|the) (community|members|attendees|subscribers|readers)",
)
# An application to a posted job: ordinary work mail, not a job seeker's cold ask.
APPLICATION = phrases(
    "(application|applying) (for|to) the",
    "(role|position|vacancy|job) (you|that you) posted",
    "(job|your) (posting|advert|advertisement|ad|listing) (for|on)",
    "reference (number|no)",
    "please find (attached|enclosed) my",
    "(attached|enclosed) (is|are) my",
    "to apply (for|to)",
    "(submit|submitting) my application",
    "my application (for|to)",
    "(position|role|vacancy|job|opening) (advertised|listed|posted) (on|at|in)",
    "(saw|seen|found) your (job )?(posting|ad|advert|advertisement|listing|vacancy)",
    "interested in applying",
    "i am applying",
    "i'm applying",
    "(interest|interested) in the (position|role|opening|vacancy|post)",
    "(consider|considered) [me] for the (position|role|opening|vacancy|post)",
    "consider my application",
    "express my interest",
    "your (opening|vacancy) for",
    "(you're|you are) hiring",
    "(which|that) you (posted|advertised)",
    "(careers|career|jobs) (page|site|website|board|portal)",
    "the (vacancy|opening|position|role|internship) for",
    "(internship|position|role|vacancy|job|opening) (posted|advertised|listed) on",
)
UNSUBSCRIBE = (
    "unsubscribe",
    "opt out",
    "opt-out",
    "reply stop",
    "manage preferences",
    "manage your preferences",
    "email preferences",
)
GENERIC_GREETING = rx(
    r"^\s*(hi|hello|hey|dear|greetings)\s*(there|friend|sir|madam|sir/madam|team|all)?\s*[,!.:]?\s*$"
)
INTRO_SUBJECT = rx(r"\b(intro|introduction|introducing|connecting|meet)\b|<>|\s(<->|&|\+|x)\s")
INTRO_QUOTE = rx(
    r"\b(i'?d like to introduce|let me introduce|(want|wanted|happy|delighted|glad) to (introduce"
    r"|connect) (you|the two)|introducing (you|the two)|meet \w+[,.!]|connecting you (two|both)"
    r"|you two should (meet|talk|connect)|moving (me|\w+) to bcc|double opt-in)"
)
YOU = frozenset({"you", "your", "yours", "you're", "you've", "you'd", "you'll"})
WE = frozenset({"i", "we", "our", "my", "us", "i'm", "we're", "i've", "we've", "i'd", "i'll"})
# a question: the run of text before a "?" since the previous ".", "?", "!" or line break; the
# lookbehind starts matches at run starts only, instead of retrying from every character of a
# run that ends in "." (quadratic in the run length, a tenth of all feature time)
QUESTION = re.compile(r"(?<![^.?!\n])[^.?!\n]*\?")
NOREPLY = rx(r"(no-?reply|do-?not-?reply|notifications?|mailer-daemon|bounce|alerts?@|news@|info@)")
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
