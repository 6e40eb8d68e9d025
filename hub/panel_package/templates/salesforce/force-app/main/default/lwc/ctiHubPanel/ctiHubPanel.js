// CTI Hub panel host (Lightning Web Component).
//
// Frames the hub's agent panel and speaks its postMessage protocol, version 1:
//   component -> panel  {type: "ctihub:record", v: 1, record: {crm, object, id} | null}
//                       {type: "ctihub:result", v: 1, requestId, ok, id?, error?}
//   panel -> component  {type: "ctihub:ready", v: 1}
//                       {type: "ctihub:pop", v: 1, requestId, record: {crm, object, id}}
//                       {type: "ctihub:resize", v: 1, height}
//                       {type: "ctihub:saveLog", v: 1, requestId, fields}
// Messages are accepted only from the hub's origin and only with the protocol version above;
// messages are sent only to the hub's origin.
import { LightningElement, api, wire } from 'lwc';
import { CurrentPageReference, NavigationMixin } from 'lightning/navigation';
import { createRecord } from 'lightning/uiRecordApi';

const HUB_URL = "__CTIHUB_HUB_URL__";
const HUB_ORIGIN = "__CTIHUB_HUB_ORIGIN__";
const PROTOCOL = 1;
const MIN_HEIGHT = 240;
const MAX_HEIGHT = 2560;
const RECORD_ID = /^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/;
// The Task fields the panel may set through saveLog; anything else is dropped.
const TASK_FIELDS = ['Subject', 'Description', 'Status', 'Priority', 'Type', 'TaskSubtype',
    'CallDisposition', 'CallObject', 'CallType', 'ActivityDate'];

export default class CtiHubPanel extends NavigationMixin(LightningElement) {
    @api recordId;
    @api objectApiName;
    pageRecordId;
    pageObjectApiName;
    frameSrc;
    height = 480;

    @wire(CurrentPageReference)
    handlePageReference(pageRef) {
        const attributes = (pageRef && pageRef.attributes) || {};
        this.pageRecordId = attributes.recordId;
        this.pageObjectApiName = attributes.objectApiName;
        this.followRecord();
    }

    connectedCallback() {
        this.messageListener = (event) => this.handleMessage(event);
        window.addEventListener('message', this.messageListener);
        if (this.recordId) {
            // On a record page the record is known now; in the utility bar the page reference
            // wire decides, so the first frame URL is the record's panel, not a blank one.
            this.followRecord();
        }
    }

    disconnectedCallback() {
        window.removeEventListener('message', this.messageListener);
    }

    get frameStyle() {
        return 'height: ' + this.height + 'px;';
    }

    get currentRecord() {
        const id = this.recordId || this.pageRecordId;
        if (!id || !RECORD_ID.test(id)) {
            return null;
        }
        return { crm: 'salesforce', object: this.objectApiName || this.pageObjectApiName || null, id: id };
    }

    followRecord() {
        const record = this.currentRecord;
        if (!this.frameSrc) {
            // The first record decides the URL; later changes travel as messages, so the panel
            // keeps its state instead of reloading on every navigation.
            this.frameSrc = record && record.object === 'Case'
                ? HUB_URL + '/panel/salesforce/cases/' + encodeURIComponent(record.id) + '?host=lwc'
                : HUB_URL + '/panel/salesforce?host=lwc';
            return;
        }
        this.post({ type: 'ctihub:record', v: PROTOCOL, record: record });
    }

    handleFrameLoad() {
        this.post({ type: 'ctihub:record', v: PROTOCOL, record: this.currentRecord });
    }

    post(message) {
        const frame = this.template.querySelector('iframe');
        if (frame && frame.contentWindow) {
            frame.contentWindow.postMessage(message, HUB_ORIGIN);
        }
    }

    handleMessage(event) {
        if (event.origin !== HUB_ORIGIN) {
            return;
        }
        const data = event.data;
        if (!data || typeof data !== 'object' || data.v !== PROTOCOL || typeof data.type !== 'string') {
            return;
        }
        if (data.type === 'ctihub:ready') {
            this.post({ type: 'ctihub:record', v: PROTOCOL, record: this.currentRecord });
        } else if (data.type === 'ctihub:resize') {
            const height = Number(data.height);
            if (Number.isFinite(height)) {
                this.height = Math.round(Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, height)));
            }
        } else if (data.type === 'ctihub:pop') {
            this.pop(data);
        } else if (data.type === 'ctihub:saveLog') {
            this.saveLog(data);
        }
    }

    pop(data) {
        const record = data.record || {};
        if (!RECORD_ID.test(String(record.id || ''))) {
            this.reply(data.requestId, { ok: false, error: 'pop needs a Salesforce record id' });
            return;
        }
        const attributes = { recordId: record.id, actionName: 'view' };
        if (record.object) {
            attributes.objectApiName = record.object;
        }
        this[NavigationMixin.Navigate]({ type: 'standard__recordPage', attributes: attributes });
        this.reply(data.requestId, { ok: true });
    }

    saveLog(data) {
        const fields = {};
        const given = (data && data.fields) || {};
        TASK_FIELDS.forEach((name) => {
            if (Object.prototype.hasOwnProperty.call(given, name)) {
                fields[name] = given[name];
            }
        });
        const record = this.currentRecord;
        if (record) {
            fields.WhatId = record.id;
        }
        createRecord({ apiName: 'Task', fields: fields })
            .then((result) => this.reply(data.requestId, { ok: true, id: result.id }))
            .catch((error) => {
                const message = (error && error.body && error.body.message) || 'the Task was not saved';
                this.reply(data.requestId, { ok: false, error: message });
            });
    }

    reply(requestId, result) {
        if (typeof requestId !== 'string') {
            return;
        }
        this.post(Object.assign({ type: 'ctihub:result', v: PROTOCOL, requestId: requestId }, result));
    }
}
