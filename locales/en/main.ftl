# handover: English messages of the web pages. Every id here must also be
# in locales/hi/main.ftl (tests/web_catalogs.rs checks).

app-name = handover
skip-to-content = Skip to the page content
nav-label = Main menu
logout = Log out
ist = IST
required = (required)
not-recorded = Not recorded
missing = missing
save = Save
search = Search
back-home = Back to the first page
back-to-child = Back to the child's page
seconds = Try again in { $n } seconds.
language-en = English
language-hi = हिन्दी

## Menu
nav-children = My children
nav-add-child = Add a child
nav-transfers = Transfers
nav-waiting = Waiting for the committee
nav-district-children = Children in the district
nav-inbox = Inbox
nav-transferred-in = Children transferred in
nav-grants = Access given
nav-shared = Papers shared with me
nav-district = District overview
nav-users = Users
nav-departments = Departments
nav-status = Node status
nav-account = My account

## Logging in
login-title = Log in
login-name = User name
login-password = Password
login-current-password = Current password
login-submit = Log in
login-ended = Your session ended. Please log in again.
login-bye = You have logged out.
login-refused = Wrong user name or password, or the account is disabled.
login-throttled = Too many failed attempts. Try again in { $n } seconds.
login-change-required = This password was set by someone else. Choose your own new password to continue.
password-new = New password
password-again = New password again
password-hint = At least 12 characters. Not a common password, and not your user name.
password-mismatch = The two new passwords are not the same.
password-current-wrong = The current password is wrong.
weak-too-short = The new password must have at least 12 characters.
weak-too-long = The new password is too long.
weak-repeated = The new password is one character repeated.
weak-common = The new password is too common or a keyboard sequence.
weak-unchanged = The new password must differ from the current one.

## My account
account-title = My account
account-language = Language of the pages
account-password = Change password
account-change-password = Change password

## Roles, kinds, states
role-shelter_staff = Shelter home staff
role-cwc_member = CWC member
role-dcpu_officer = DCPU officer
role-swd_officer = SWD officer
role-support_person = Support person
role-admin = Administrator
scope-institution = Child care institution
scope-district = District
scope-department = Department
kind-fir = FIR (police report)
kind-medical_report = Medical report
kind-fit_to_travel = Fit-to-travel certificate
kind-counselling_report = Counselling report
kind-release_certificate = Release certificate
kind-legal_statement = Statement of the child
kind-cwc_order = CWC order
kind-social_investigation = Social Investigation Report (SIR)
kind-care_plan = Individual Care Plan (ICP)
kind-bank_account = Bank account
kind-identity = Identity document
kind-education_report = Education report
kind-other = Other paper
purpose-restoration = Restoration to the family
purpose-compensation_claim = Victim compensation claim
purpose-school_enrolment = School admission
sex-female = Female
sex-male = Male
sex-transgender = Transgender
sex-unknown = Not known
state-draft = Draft
state-submitted = Waiting for the CWC
state-approved = Approved by the CWC
state-rejected = Rejected by the CWC
state-sent = Sent
state-delivered = Delivered
state-revoked = Withdrawn
state-failed = Could not be delivered
state-refused = Refused by the receiving department
state-partially_delivered = Partly delivered
step-draft = Drafted
step-submit = Submitted to the CWC
step-override = Submitted by the CWC with papers missing
step-approve = Approved by the CWC
step-reject = Rejected by the CWC
step-send = Sent
step-deliver = Receipt received: delivered
step-deliver_partially = Receipt received: partly delivered
step-refuse = Refused by the receiving department
step-fail = Delivery failed
step-revoke = Withdrawn
inbox-state-waiting = Waiting
inbox-state-accepted = Accepted
inbox-state-refused = Refused
token-active = active
token-expired = expired
token-revoked = revoked
oversight-reader_created = Accounts created that can read papers
oversight-reader_role_given = Accounts given a role that reads papers
oversight-password_reset = Passwords reset by an administrator
action-read_document = Read a paper
action-read_record = Opened the record
action-add_document = Added a paper
action-edit_child = Edited the record
action-create_child = Took the child in
action-move_child = Moved the child
action-grant_access = Gave or changed access
action-create_transfer = Worked on a transfer
action-approve_transfer = Decided a transfer
action-read_access_log = Read this history
action-other = Other action

## Case record fields
field-name = Child's name
field-age = Age
field-sex = Sex
field-date_of_birth = Date of birth
field-estimated_age = Age in years (if the date of birth is not known)
field-home_state = Home state
field-home_district = Home district
field-institution = Child care institution
field-district = District of placement
field-district-hint = Written as state/district, for example rajasthan/jaipur.
field-rescue_date = Date of rescue
field-rescue_place = Place of rescue
field-cwc_case_number = CWC case number
field-languages = Languages the child speaks
field-languages-hint = Separate them with commas.
field-notes = Notes
field-record = A field of the record
field-title = Title of the paper
form-bad-date = A date is not a valid date.
form-bad-sex = Choose the sex from the list.
form-bad-age = The age must be a number of years.
form-name-required = The child's name is required.
form-bad-role = Choose a role from the list.
form-bad-scope = The place of work is not written correctly.

## Children
children-title = My children
children-search = Search by name
children-count = { $n ->
    [one] { $shown } child
   *[other] { $shown } children
}
children-none = No children to show.
age-years = { $n ->
    [one] { $shown } year
   *[other] { $shown } years
}
papers-present = { $have } of { $of } papers
papers-missing = Missing
pages-label = Pages
page-first = First page
page-next = Next page
child-title = Child
child-new-title = Add a child
child-new-hint = Only the name is needed now; everything else can be added later.
child-new-submit = Add the child
child-papers = Papers
child-record = Case record
child-transfers = Transfers
child-grants = Access given to support persons
child-transferred-in = This child was transferred in from another department.
add-scan = Add a scan
add-scan-any = Add scans

## Scans and papers
upload-title = Add scans
upload-kind = Kind of paper
upload-doc-title = Title
upload-doc-title-hint = Needed for "Other paper". Do not write the child's name.
upload-files = Files or camera
upload-hint = Photos (JPEG, PNG) or PDF. You can choose several files.
upload-progress = Upload progress
upload-submit = Upload
uploaded-title = Upload finished
upload-file-number = File { $n }
upload-stored-clean = Stored. It carried no hidden data to remove.
upload-stored-as = Stored as
upload-stored-photo = Location and camera data were removed from the photo.
upload-stored-pdf = Author, title and other hidden data were removed from the PDF.
upload-stored = Stored.
upload-empty = The file is empty.
upload-unsupported = This kind of file is not accepted. Upload a photo (JPEG or PNG) or a PDF.
upload-text-not-allowed = Text files are accepted only as "Other paper".
upload-too-large = The file is larger than this node accepts.
upload-truncated = The file arrived incomplete; the upload was probably cut off. Try again.
upload-malformed = The file is damaged and cannot be read.
upload-heic = iPhone photos in HEIC format cannot be cleaned of their location data. Choose "Most Compatible" in the camera settings, or share the photo as JPEG.
upload-cannot-clean = This file cannot be cleaned of its hidden data. Save or print it as a new PDF and upload that.
upload-kind-required = Choose the kind of paper first.
upload-no-file = Choose at least one file.
upload-waiting = Waiting to send.
upload-sending = Sending: { $percent } %
upload-paused = Paused. Press "Continue" to go on.
upload-retry-at = The connection dropped. The next try is at { $time }; what has arrived is kept.
upload-pause = Pause
upload-resume = Continue
upload-done = Stored.
upload-refused = This file was not accepted. It is not a readable photo or PDF of an allowed kind, or it is damaged or cut off.
upload-not-allowed = You may not add papers for this child.
upload-too-many = Too many uploads are unfinished. Let them finish, or wait a day, and try again.
upload-unfinished = { $n ->
    [one] One upload was not finished.
   *[other] { $n } uploads were not finished.
} Choose the same files again to continue where they stopped.
document-title = Paper
document-open = Open
document-download = Download

## Transfers
transfers-title = Transfers
transfers-waiting-committee = Waiting for the committee
transfers-waiting-send = Approved, ready to send
transfers-others = All transfers
transfers-none = None.
transfer-title = Transfer
transfer-new-title = Transfer to a department
transfer-to = Receiving department
transfer-no-departments = No other department is in the directory yet. An administrator adds them.
transfer-draft = Start a transfer
transfer-history = What happened
transfer-review = The record and papers
transfer-next = Next step
transfer-submit = Submit to the CWC
transfer-incomplete = Papers are missing. Add them, or ask the CWC to submit with a recorded reason.
transfer-override = Submit with papers missing
transfer-override-reason = Why the transfer goes ahead with papers missing
transfer-order-number = Restoration order number
transfer-order-required = The restoration order number is required.
transfer-order = Order { $n }
transfer-approve = Approve
transfer-reject-reason = Reason for rejecting
transfer-reject = Reject
transfer-send = Send the papers
transfer-revoke = Withdraw the transfer

## Inbox
inbox-title = Inbox
inbox-waiting = Waiting for a decision
inbox-empty = Nothing is waiting.
inbox-arrived = Arrived
inbox-documents = Papers
inbox-size = Size
inbox-signature = Signature
inbox-signature-verified = Verified: sent by this department and not changed
inbox-accept = Accept
inbox-refuse-reason = Reason for refusing (sent back to the sender)
inbox-refuse = Refuse
inbox-decided = Decided
inbox-open-child = Open the child's page

## Grants
grants-title = Access given
grants-none = No access has been given.
grant-new-title = Give access
grant-no-people = There is no support person account on this node yet.
grant-to = Support person
grant-kinds = Papers they may see
grant-purpose = Purpose
grant-until = Until
grant-until-hint = At most one year from today.
grant-submit = Give access
grant-form-incomplete = Choose the person, the purpose and the end date.
grant-revoke = Revoke
grant-revoked = Revoked
grant-ended = Ended
grant-ends-in = { $n ->
    [one] Ends in { $shown } day
   *[other] Ends in { $shown } days
}
shared-title = Papers shared with me
shared-none = No papers have been shared with you.
shared-papers-title = Shared papers
shared-no-papers = None of the shared kinds of paper is on file yet.
shared-revoked = This access was revoked. The papers can no longer be seen.
shared-expired = This access has ended. The papers can no longer be seen.
access-title = Access history
access-caption = Who asked for what about this child, newest first
access-none = Nothing recorded yet.
access-older = Older entries
access-when = When
access-who = Who
access-what = What
access-why = Why
access-refused = refused

## District
district-title = District overview
district-homes = Children per child care institution
district-children = Children
district-papers = Papers present and missing, per kind
district-have = present
district-miss = missing
district-transfers = Transfers by receiving department
district-state = State
district-count = Number
district-oldest = Waiting longest

## Administration
users-title = Users
users-add = Add a user
users-name-hint = 2 to 64 of a-z, 0-9, dot, dash and underscore.
users-role = Role
users-scope-kind = Works at
users-scope = Place id
users-scope-hint = The institution id, the district as state/district, or the department id.
users-first-password = First password (optional)
users-first-password-hint = The user must change it at the first login. Leave empty for an account that uses tokens only.
users-list = All users
users-disabled = disabled
users-must-change = must change the password
users-enable = Enable
users-disable = Disable
users-reset-password = New password (a reset)
users-reset = Reset password
users-token = Token
users-revoke-token = Revoke
departments-title = Departments
departments-this-node = this node
departments-revoked = key revoked: nothing is sent to or accepted from it
departments-signing = Signing key fingerprint
departments-encryption = Encryption key fingerprint
departments-add = Add a department
departments-add-hint = Compare both fingerprints with the other department by phone before you add its card.
departments-paste = Paste the card
departments-upload = Or upload the card file
status-title = Node status
status-health = Health
status-audit = Audit log
status-audit-ok = Verified up to checkpoint { $n } at { $at }
status-audit-broken = The audit log does not verify. Call the node operator now.
status-disk = Disk
status-disk-free = { $free } free of { $total }
status-inbox = Bundles waiting in the inbox
status-outbox = Pushes waiting to go out
status-attempts = Attempts
status-next = Next try
status-failing = Failing
status-failing-yes = yes
status-undelivered = { $n ->
    [one] Sent more than { $shown } day ago and not delivered
   *[other] Sent more than { $shown } days ago and not delivered
}
status-users = Accounts by role
status-oversight = Acts that a second person should watch
size-kb = { $n } KB
size-mb = { $n } MB

## Errors
error-title = Something went wrong
error-not-found = This page does not exist, or you may not see it.
error-conflict = This step does not fit where things stand now. Reload the page.
error-invalid-field = Please correct this field:
error-reason-required = A reason of 1 to 500 characters is required.
error-checklist-incomplete = These papers are missing:
error-unknown-department = That department is not in the directory.
error-unknown-district = That district is not on this node's list.
error-placement-by-move = The institution or district changes only by a move, with a reason.
error-user-exists = A user with this name already exists.
error-user-name = A user name is 2 to 64 of a-z, 0-9, dot, dash and underscore.
error-separation-of-duties = An administrator cannot do this, to keep duties separate.
error-grant-period = The end date must be after today and at most a year ahead.
error-grant-kinds = Choose at least one kind of paper.
error-not-support-person = Access can be given only to a support person.
error-card = This is not a valid department card, or its keys differ from the card on file.
error-throttled = Too many attempts.
error-foreign-post = This form did not come from this site, or it has expired. Go back, reload the page and try again.
error-refused = This was refused.
error-integrity = A stored file failed its check. Tell the node operator.
error-internal = Something failed on the server. Try again later.
