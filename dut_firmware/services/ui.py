"""The device's configuration page (``GET /ui``): one self-contained HTML document, no external assets.

It asks for the API token (kept in the browser tab's session storage, never in the page), shows the
device (``/han``), the latest meter values (``/meter``, refreshed every 5 s) and the configuration
(``/configuration``), and posts the changes of its form as one JSON object to ``POST /configuration``
with ``Authorization: Bearer <token>``; the answer (the new configuration, or the error) is shown.
Secrets (meter keys, MQTT password, token) are write-only: an empty field leaves them unchanged.
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>HAN reader</title>
<style>
body{font-family:system-ui,sans-serif;margin:1em auto;max-width:42em;padding:0 1em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.4em}
table{border-collapse:collapse}td,th{padding:.15em .6em;text-align:left}
fieldset{margin:.6em 0;border:1px solid #bbb}label{display:block;margin:.3em 0}
input[type=text],input[type=password],input[type=number],select{width:16em}
#msg{white-space:pre-wrap;padding:.4em}.ok{background:#dfd}.err{background:#fdd}
</style></head><body>
<h1>HAN reader <span id="name"></span></h1>
<label>API token <input type="password" id="token" autocomplete="off">
<button type="button" id="load">Load</button></label>
<div id="msg"></div>
<h2>Device</h2><table id="device"></table>
<h2>Meter</h2><table id="meter"></table>
<h2>Configuration</h2>
<form id="form">
<fieldset><legend>Device</legend>
<label>Name <input type="text" name="device.name"></label>
<label>Time zone (POSIX rule) <input type="text" name="tz"></label></fieldset>
<fieldset><legend>Meter keys (write-only; empty: unchanged)</legend>
<label>Encryption key (32 hex) <input type="password" name="meter.key" autocomplete="off"></label>
<label>Authentication key (32 hex) <input type="password" name="meter.auth_key" autocomplete="off"></label>
</fieldset>
<fieldset><legend>MQTT</legend>
<label><input type="checkbox" name="mqtt.enabled"> enabled</label>
<label>Broker host <input type="text" name="mqtt.host"></label>
<label>Port <input type="number" name="mqtt.port" min="1" max="65535"></label>
<label>Topic <input type="text" name="mqtt.topic"></label>
<label>User name <input type="text" name="mqtt.username"></label>
<label>Password (empty: unchanged) <input type="password" name="mqtt.password" autocomplete="off"></label>
</fieldset>
<fieldset><legend>Modbus TCP</legend>
<label><input type="checkbox" name="modbus.enabled"> enabled</label>
<label>Port <input type="number" name="modbus.port" min="1" max="65535"></label>
<label>Register map <select name="modbus.map"><option>default</option><option>han2x</option></select></label>
</fieldset>
<button type="submit">Save</button>
</form>
<script>
"use strict";
var $=function(id){return document.getElementById(id);};
var tok=$("token");tok.value=sessionStorage.getItem("han-token")||"";
var cfg=null;
function hdr(){var h={"Content-Type":"application/json"};
 if(tok.value){h["Authorization"]="Bearer "+tok.value;}return h;}
function say(text,ok){var m=$("msg");m.textContent=text;m.className=ok?"ok":"err";}
function get(path){return fetch(path,{headers:hdr()}).then(function(r){
 return r.json().then(function(j){if(!r.ok){throw new Error(path+": "+r.status+" "+(j.error||""));}return j;});});}
function rows(id,pairs){var t=$(id);t.textContent="";pairs.forEach(function(p){
 var tr=t.insertRow();tr.insertCell().textContent=p[0];
 tr.insertCell().textContent=(p[1]===null||p[1]===undefined)?"-":String(p[1]);});}
function dig(o,path){return path.split(".").reduce(function(a,k){return a==null?a:a[k];},o);}
function fill(c){cfg=c;Array.prototype.forEach.call($("form").elements,function(el){
 if(!el.name){return;}var v=dig(c,el.name);
 if(el.type==="checkbox"){el.checked=!!v;}else if(el.type==="password"){el.value="";
  el.placeholder=dig(c,el.name+"_set")?"(set)":"(not set)";}else{el.value=(v===null||v===undefined)?"":v;}});}
function device(){return get("/han").then(function(h){$("name").textContent=h.name||"";
 rows("device",[["serial",h.serial],["model",h.model],["firmware",h.version],["state",h.state],
 ["online",h.online],["MAC",h.mac],["IP",h.ethIp||h.wifiIp]]);});}
function meter(){return get("/meter").then(function(m){rows("meter",[
 ["time",m.ts?new Date(m.ts).toLocaleString():null],["power import W",m.pi[0]],["power export W",m.pe[0]],
 ["import kWh",m.ic],["export kWh",m.ec],["estimated import kWh",m.eic],["voltage V",m.u.join(" / ")],
 ["current A",m.i.join(" / ")],["meter",m.meter_id]]);}).catch(function(e){rows("meter",[["meter",e.message]]);});}
function load(){sessionStorage.setItem("han-token",tok.value);
 Promise.all([device(),get("/configuration").then(fill)]).then(function(){say("loaded",true);meter();})
 .catch(function(e){say(e.message,false);});}
$("load").onclick=load;
$("form").onsubmit=function(ev){ev.preventDefault();var out={};
 Array.prototype.forEach.call(this.elements,function(el){if(!el.name){return;}
  var v=el.type==="checkbox"?el.checked:el.value;
  if(el.type==="password"&&v===""){return;}
  if(el.type==="number"){v=parseInt(v,10);if(isNaN(v)){return;}}
  if(el.type==="text"&&v===""&&dig(cfg,el.name)===null){return;}
  var keys=el.name.split("."),o=out;
  for(var k=0;k<keys.length-1;k++){o=o[keys[k]]=o[keys[k]]||{};}o[keys[keys.length-1]]=v;});
 fetch("/configuration",{method:"POST",headers:hdr(),body:JSON.stringify(out)}).then(function(r){
  return r.json().then(function(j){if(!r.ok){throw new Error(r.status+" "+(j.error||""));}
  fill(j);say("saved",true);});}).catch(function(e){say(e.message,false);});};
load();setInterval(meter,5000);
</script></body></html>
"""
